"""Hand-off files: validation errors, atomic writes, model metadata checks."""
import numpy as np
import pandas as pd
import pytest

from essentia_engine import DEFAULT_CONFIG, ExtractorConfig, feature_names
from va_io import (load_model, read_csv, read_features, read_training_table, save_model, write_csv)
from va_utils import BadLabelError, ModelMismatchError

NAMES = list(feature_names(DEFAULT_CONFIG))


def _features_table(n=3):
    meta = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(n)], "path": [f"f{i}.wav" for i in range(n)],
                         "duration": 1.0, "sample_rate": 22050, "channels": 1})
    return pd.concat([meta, pd.DataFrame(np.random.default_rng(0).random((n, len(NAMES))), columns=NAMES)], axis=1)


def test_roundtrip(tmp_path):
    p = write_csv(_features_table(), tmp_path / "f.csv", config=DEFAULT_CONFIG)
    df = read_features(p, config=DEFAULT_CONFIG)
    assert len(df) == 3 and list(df.columns[5:]) == NAMES


def test_missing_column(tmp_path):
    p = write_csv(_features_table().drop(columns="duration"), tmp_path / "f.csv", config=DEFAULT_CONFIG)
    with pytest.raises(BadLabelError, match=r"missing column\(s\) \['duration'\]"):
        read_features(p, config=DEFAULT_CONFIG)


def test_duplicate_key(tmp_path):
    df = _features_table()
    df.loc[2, ["sha256", "path"]] = df.loc[0, ["sha256", "path"]]
    p = write_csv(df, tmp_path / "f.csv", config=DEFAULT_CONFIG)
    with pytest.raises(BadLabelError, match=r"duplicate sha256/path .* on lines \[2, 4\]"):
        read_features(p, config=DEFAULT_CONFIG)


def test_non_numeric_and_nan_values(tmp_path):
    df = _features_table().astype({NAMES[5]: object})
    df.loc[1, NAMES[5]] = "loud"
    p = write_csv(df, tmp_path / "f.csv", config=DEFAULT_CONFIG)
    with pytest.raises(BadLabelError, match=rf"line 3: column '{NAMES[5]}' holds 'loud', expected a number"):
        read_features(p, config=DEFAULT_CONFIG)
    df = _features_table()
    df.loc[0, NAMES[0]] = np.inf
    p = write_csv(df, tmp_path / "g.csv", config=DEFAULT_CONFIG)
    with pytest.raises(BadLabelError, match="line 2: .* expected a finite number"):
        read_features(p, config=DEFAULT_CONFIG)


def test_wrong_feature_order(tmp_path):
    df = _features_table()
    cols = list(df.columns)
    cols[5], cols[6] = cols[6], cols[5]
    p = write_csv(df[cols], tmp_path / "f.csv", config=DEFAULT_CONFIG)
    with pytest.raises(BadLabelError, match="feature columns out of order"):
        read_features(p, config=DEFAULT_CONFIG)


def test_sidecar_required_and_checked(tmp_path):
    p = write_csv(_features_table(), tmp_path / "f.csv")  # no sidecar
    with pytest.raises(BadLabelError, match="meta.json: missing"):
        read_features(p, config=DEFAULT_CONFIG)
    other = ExtractorConfig(sample_rate=32000)
    write_csv(_features_table(), tmp_path / "g.csv", config=other)
    with pytest.raises(ModelMismatchError, match="running config"):
        read_features(tmp_path / "g.csv", config=DEFAULT_CONFIG)


def test_training_table_needs_one_target(tmp_path):
    df = _features_table().rename(columns={"path": "file"})
    df.insert(2, "corpus", "c")
    df.insert(3, "group", "g")
    p = write_csv(df, tmp_path / "t.csv", config=DEFAULT_CONFIG)
    with pytest.raises(BadLabelError, match="exactly one target column"):
        read_training_table(p, config=DEFAULT_CONFIG)
    df.insert(4, "arousal", 0.1)
    write_csv(df, p, config=DEFAULT_CONFIG)
    t, target = read_training_table(p, config=DEFAULT_CONFIG)
    assert target == "arousal" and len(t) == 3


class Boom(pd.DataFrame):
    """A table whose writing fails half-way."""

    def to_csv(self, *a, **k):
        a[0].write("partial")
        raise RuntimeError("disk full")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    p = tmp_path / "keep.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(RuntimeError, match="disk full"):
        write_csv(Boom({"x": [1]}), p)
    assert p.read_text() == "a,b\n1,2\n"
    assert not list(tmp_path.glob("*.tmp"))


def test_read_csv_unreadable(tmp_path):
    with pytest.raises(BadLabelError, match="no such file"):
        read_csv(tmp_path / "nope.csv")


def test_model_metadata_mismatch_refused(tmp_path):
    from sklearn.dummy import DummyRegressor
    m = DummyRegressor().fit(np.zeros((2, len(NAMES))), [0, 1])
    meta = {"feature_names": NAMES, "extractor": ExtractorConfig(sample_rate=32000).to_dict()}
    save_model(m, tmp_path / "m.joblib", metadata=meta)
    with pytest.raises(ModelMismatchError, match="trained with extractor config"):
        load_model(tmp_path / "m.joblib", config=DEFAULT_CONFIG)
    save_model(m, tmp_path / "n.joblib", metadata={**meta, "extractor": DEFAULT_CONFIG.to_dict(),
                                                     "feature_names": NAMES[::-1]})
    with pytest.raises(ModelMismatchError, match="feature list differs"):
        load_model(tmp_path / "n.joblib", config=DEFAULT_CONFIG)
    save_model(m, tmp_path / "ok.joblib", metadata={**meta, "extractor": DEFAULT_CONFIG.to_dict()})
    pipe, md = load_model(tmp_path / "ok.joblib", config=DEFAULT_CONFIG)
    assert len(md["sha256"]) == 64 and "library_versions" in md and (tmp_path / "ok.json").is_file()


def test_models_load_only_when_the_manifest_vouches_for_them(tmp_path, capsys):
    """A tampered model, or one from elsewhere, is refused before unpickling; --trust-model
    loads it with a warning that loading runs code."""
    import shutil

    from sklearn.dummy import DummyRegressor

    import va_io
    from va_io import ModelMismatchError, load_model, save_model, trust_models
    d = tmp_path / "models"
    p = d / "m.joblib"
    save_model(DummyRegressor().fit([[0.0]], [1.0]), p, metadata={"name": "m"})
    assert load_model(p)[1]["name"] == "m"                                   # trained here: loads
    other = tmp_path / "elsewhere" / "m.joblib"
    other.parent.mkdir()
    shutil.copy(p, other)
    with pytest.raises(ModelMismatchError, match="no MANIFEST.json .* records it.*runs code"):
        load_model(other)                                                     # no manifest vouches for it
    p.write_bytes(p.read_bytes() + b"\0")                                    # tampered after training
    with pytest.raises(ModelMismatchError, match="differs from the one .*MANIFEST.json recorded"):
        load_model(p)
    try:
        trust_models(True)
        with pytest.warns(UserWarning, match="untrusted model"):
            assert load_model(other)[1]["name"] == "m"
        assert "loading a model file runs code" in capsys.readouterr().err
    finally:
        trust_models(False)
    obj_dir = tmp_path / "old"
    save_model(DummyRegressor().fit([[0.0]], [1.0]), obj_dir / "old.joblib", metadata={"model_format": 99})
    with pytest.raises(ModelMismatchError, match="model format 99"):
        load_model(obj_dir / "old.joblib")
    assert va_io._TRUST["all"] is False


def test_features_with_inf_are_refused(tmp_path):
    from essentia_engine import DEFAULT_CONFIG, feature_names
    from va_io import read_features, write_csv
    names = list(feature_names(DEFAULT_CONFIG))
    df = pd.DataFrame([[f"{i:064x}", f"f{i}.wav", 1.0, 22050, 1] + [0.5] * len(names) for i in range(3)],
                      columns=["sha256", "path", "duration", "sample_rate", "channels"] + names)
    df.loc[1, names[5]] = np.inf
    write_csv(df, tmp_path / "f.csv", config=DEFAULT_CONFIG)
    with pytest.raises(BadLabelError, match=f"{names[5]}.*(inf|finite)"):
        read_features(tmp_path / "f.csv", config=DEFAULT_CONFIG)


def test_gzip_tables_round_trip_with_the_same_sidecar(tmp_path):
    df = _features_table()
    p = write_csv(df, tmp_path / "out_Valence.csv.gz", config=DEFAULT_CONFIG)
    assert p.read_bytes()[:2] == b"\x1f\x8b"                      # really gzip
    assert (tmp_path / "out_Valence.meta.json").is_file()          # the sidecar drops both suffixes
    back = read_features(p, config=DEFAULT_CONFIG)
    np.testing.assert_allclose(back[NAMES].to_numpy(), df[NAMES].to_numpy(), rtol=1e-6)
    again = write_csv(df, tmp_path / "again.csv.gz", config=DEFAULT_CONFIG)
    assert again.read_bytes() == p.read_bytes()                    # no timestamp inside: same table, same bytes


def test_gzip_write_failure_keeps_old_file(tmp_path):
    p = write_csv(_features_table(), tmp_path / "t.csv.gz")
    before = p.read_bytes()
    with pytest.raises(RuntimeError, match="disk full"):
        write_csv(Boom({"x": [1]}), p)
    assert p.read_bytes() == before and not list(tmp_path.glob("*.tmp"))
