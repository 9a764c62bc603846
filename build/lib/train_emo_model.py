"""Stage 1: train the valence and arousal models.

Reads labelled audio corpora (RAVDESS, Emotify, Emo-Soundscapes, or a generic
``file,valence,arousal[,group]`` CSV) and extracts their features, or reads feature tables
written earlier (``--features``), so retraining needs no audio.

Writes, in ``--out-dir``:
  out_Valence.csv.gz, out_Arousal.csv.gz   features, target and group (+ .meta.json sidecars)
  out_labels.csv                     every human label kept per file (for the database)
  cv_report.csv                      grouped nested-CV R², RMSE, r and CCC, mean ± std
  cv_folds.csv                       the same metrics per fold
  cv_predicted_vs_true.png/.svg      out-of-fold predictions against truth
  cv_emotion_report.csv              the classifier's grouped nested-CV UAR and accuracy
and in ``--models-dir``: trained_valence_model.joblib and trained_arousal_model.joblib,
plus trained_emotion_classifier.joblib when the data carry categorical ``emotion``
labels (RAVDESS), each with a .json copy of its metadata (recipe, feature list,
extractor config, library versions, training-data hash, CV scores, date).

The models use the recipes of ``va_models.DEFAULT_RECIPES`` (the winners of
``evaluate_models.py``, see docs/RESULTS.md): valence/arousal are ``va_models.SoundVA``,
a stack of an RBF SVR and a ridge regression under a ridge meta-learner, on our features
plus YAMNet's embedding (log-energy -> StandardScaler -> bounded to ±3), handing over to
the lexicon prior of YAMNet's sound classes for files that are neither speech nor music;
the classifier is log-energy -> StandardScaler -> logistic regression on our features,
with C searched under grouped K-fold CV. Reported scores come
from nested CV: the search runs inside each outer training fold, and groups (actor,
track, source recording) never straddle a split.

Examples:
  python train_emo_model.py --ravdess ../shared/data/ravdess_speech --emotify ../shared/data/emotify -j 2
  python train_emo_model.py --features data/out_Valence.csv.gz data/out_Arousal.csv.gz --labels data/out_labels.csv
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from essentia_engine import DEFAULT_CONFIG, feature_names
from extractor import extract_batch
from va_cli import add_common_args, extraction_args, exit_main, parser, run_main, show_progress
from va_data_loader import load_corpus, load_lexicon
from va_evaluation import (classification_metrics, conformal_interval, confusion, domain_intervals, fit_search, fixed_folds,
                           nested_cv, oof_predict, summarise)
from va_io import (BURST_CLASSIFIER_FILE, CLASSIFIER_FILE, MODEL_FILES, TARGETS, TRAINING_META_COLUMNS, VOCAL_GATE_FILE,
                   read_csv, read_training_table, save_model, write_csv, write_json)
from va_models import DEFAULT_RECIPES, make_model, out_of_range_share
from va_plotter import plot_pred_vs_true
from va_utils import BadLabelError, EmoTagError, log

TABLE_FILES = {"valence": "out_Valence.csv.gz", "arousal": "out_Arousal.csv.gz"}
DOMAIN_Z = 5.0  # |z| beyond which a standardised feature counts as outside the training range
INTERVAL_LEVEL = 0.9  # coverage the valence/arousal intervals aim at


def build_parser():
    ap = parser(__doc__)
    src = ap.add_argument_group("training data (give corpora, or --features)")
    src.add_argument("--ravdess", metavar="DIR", help="RAVDESS speech folder (Actor_XX/*.wav|flac)")
    src.add_argument("--emotify", metavar="DIR", help="Emotify folder holding labels.csv")
    src.add_argument("--emo-soundscapes", metavar="DIR", help="Emo-Soundscapes root folder")
    src.add_argument("--sonancia", metavar="DIR", help="Sonancia folder (game sound effects; targets from its pairwise "
                                                          "judgements, va_data_loader.pair_scores)")
    src.add_argument("--sievers", metavar="DIR", help="Sievers synthetic-sound folder (arousal only)")
    src.add_argument("--emogator", metavar="DIR", help="EmoGator vocal-burst folder (lexicon targets of the 30 categories)")
    src.add_argument("--emogator-takes", metavar="N", type=int, nargs="+", choices=(1, 2, 3), default=[1, 2, 3],
                     help="which of EmoGator's three takes per contributor and category to use (default: all)")
    src.add_argument("--csv", metavar="FILE", action="append", default=[],
                     help="generic labelled CSV file,valence,arousal[,group] (repeatable)")
    src.add_argument("--audio-root", metavar="DIR", help="root for the paths of --csv files (default: the CSV's folder)")
    src.add_argument("--features", metavar="CSV", nargs="+",
                     help="retrain from out_Valence.csv.gz and/or out_Arousal.csv.gz instead of audio")
    src.add_argument("--labels", metavar="CSV",
                     help="with --features: out_labels.csv whose 'emotion' column trains the 8-class classifier "
                          "(default: out_labels.csv beside the first --features table, if present)")
    ap.add_argument("--no-classifier", action="store_true", help="do not train the emotion classifier")
    ap.add_argument("--lexicon", help="NRC-VAD lexicon (file or folder) for category targets (default: data/descriptor_lexicon.csv)")
    ap.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS), help="which models to train")
    ap.add_argument("--folds", type=int, default=5, help="outer grouped CV folds")
    ap.add_argument("--inner-folds", type=int, default=3, help="grouped folds of the hyperparameter search")
    ap.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    add_common_args(ap, db=False, out_dir=True)
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def data_hash(df: pd.DataFrame) -> str:
    """sha256 of a training table's content (rows sorted by sha256)."""
    d = df.sort_values("sha256").reset_index(drop=True)
    return hashlib.sha256(pd.util.hash_pandas_object(d, index=False).to_numpy().tobytes()).hexdigest()


def tables_from_audio(args, out_dir):
    """Extract features of every labelled file; write out_*.csv.gz and out_labels.csv."""
    lex = load_lexicon(args.lexicon) if args.lexicon else load_lexicon()
    frames = []
    for kind, path in (("ravdess", args.ravdess), ("emotify", args.emotify), ("emo-soundscapes", args.emo_soundscapes),
                       ("sonancia", args.sonancia), ("sievers", args.sievers), ("emogator", args.emogator)):
        if path:
            frames.append(load_corpus(kind, path, lexicon=lex, instances=args.emogator_takes))
    frames += [load_corpus("csv", c, audio_root=args.audio_root) for c in args.csv]
    if not frames:
        raise BadLabelError("no training data: give corpora (--ravdess, --emotify, --sonancia, --sievers, --emogator, "
                            "--emo-soundscapes, --csv) or --features")
    labels = pd.concat(frames, ignore_index=True)
    log.info("extracting features of %d labelled files", len(labels))
    results = extract_batch(labels["path"], config=DEFAULT_CONFIG, **extraction_args(args), progress=show_progress(args))
    for r in results:
        if not r.ok:
            log.error("%s: %s (skipped)", r.path, r.error)
    ok = np.array([r.ok for r in results])
    if not ok.any():
        raise EmoTagError("no training file could be analysed")
    labels = labels.loc[ok].reset_index(drop=True)
    good = [r for r in results if r.ok]
    labels.insert(0, "sha256", [r.sha256 for r in good])
    dup = labels["sha256"].duplicated()
    if dup.any():
        first = labels.drop_duplicates("sha256").set_index("sha256")["path"]
        for sha, path in zip(labels.loc[dup, "sha256"], labels.loc[dup, "path"]):
            log.warning("%s is byte-identical to %s; the audio is used once", path, first[sha])
    feats = pd.DataFrame(np.vstack([r.features for r in good]), columns=list(feature_names(DEFAULT_CONFIG)))
    # YAMNet's 1545 columns are most of a table's bytes: its embedding kept to 3 decimals and its
    # class scores to 4 (the tables shrink from 35 to 20 MB; a shift of at most 5e-4 in inputs
    # standardised to unit variance)
    emb = [c for c in feats.columns if c.startswith("yamnet.embedding.")]
    score = [c for c in feats.columns if c.startswith("yamnet.score.")]
    feats[emb], feats[score] = feats[emb].round(3), feats[score].round(4)
    labels, feats = labels.loc[~dup].reset_index(drop=True), feats.loc[~dup.to_numpy()].reset_index(drop=True)
    tables = {}
    for t in args.targets:
        tab = pd.concat([labels[TRAINING_META_COLUMNS + [t]], feats], axis=1)
        tab = tab[np.isfinite(tab[t].to_numpy(float))].reset_index(drop=True)   # Sievers has no valence
        write_csv(tab, out_dir / TABLE_FILES[t], config=DEFAULT_CONFIG, source="train_emo_model.py (audio)")
        tables[t] = tab
    bookkeeping = ("path", "modality", "channel", "emotion_id", "statement", "repetition", "is_mix")
    extra = [c for c in labels.columns if c not in bookkeeping]
    write_csv(labels[extra], out_dir / "out_labels.csv")
    return tables


def tables_from_features(args):
    tables = {}
    for p in args.features:
        df, target = read_training_table(p, config=DEFAULT_CONFIG)
        if target in tables:
            raise BadLabelError(f"{p}: a second table for target {target!r}")
        tables[target] = df
    missing = [t for t in args.targets if t not in tables]
    if missing:
        raise BadLabelError(f"--features gives no table for {missing}; pass its out_*.csv.gz or choose --targets")
    return tables


def train_target(target, table, args):
    names = list(feature_names(DEFAULT_CONFIG))
    X, y = table[names].to_numpy(float), table[target].to_numpy(float)
    groups = table["group"].astype(str).to_numpy()
    pipe, grid = make_model(DEFAULT_RECIPES["regression"], "regression", names, target=target)
    log.debug("%s: nested grouped CV (%d outer x %d inner folds) on %d files in %d groups", target, args.folds,
             args.inner_folds, len(y), len(np.unique(groups)))
    folds, oof, search = nested_cv(pipe, grid, X, y, groups, folds=args.folds, inner_folds=args.inner_folds,
                                   jobs=args.jobs, seed=args.seed, strata=table["corpus"].astype(str).to_numpy(),
                                   refit=True)
    summary = summarise(folds, target=target)
    return search, folds, summary, oof, uncertainty_metadata(search.best_estimator_, X, y, oof, groups, args)


def uncertainty_metadata(model, X, y, oof, groups, args) -> dict:
    """The ``interval`` and ``in_domain`` entries of a VA model's metadata (read by ``va_inference``).

    ``interval``: a 90% split-conformal half-width from the out-of-fold residuals, with its
    coverage checked fold by fold under the same grouped CV; ``interval["by_domain"]``
    the same per domain (speech, music, vocal, other: :func:`va_yamnet.domains` of each
    training file), so that an acted sentence and an abstract synth get their own widths. ``in_domain``: the
    distribution (101 quantiles) of the training files' share of standardised features
    beyond ±DOMAIN_Z, against which a new file's share is ranked.
    """
    share = out_of_range_share(model, X, z=DOMAIN_Z)
    interval = conformal_interval(y, oof, groups, folds=args.folds, seed=args.seed, level=INTERVAL_LEVEL)
    interval["by_domain"] = domain_intervals(X, y, oof, groups, folds=args.folds, seed=args.seed, level=INTERVAL_LEVEL)
    return {"interval": interval,
            "in_domain": {"z": DOMAIN_Z, "share_quantiles": [float(v) for v in np.quantile(share, np.linspace(0, 1, 101))],
                          "meaning": "a file's in-domain score is the share of training files whose share of "
                                     "standardised features beyond ±z is at least the file's own"}}


def _run(args):
    out_dir, models_dir = Path(args.out_dir), Path(args.models_dir)
    if args.features and (args.ravdess or args.emotify or args.emo_soundscapes or args.csv or args.sonancia
                          or args.sievers or args.emogator):
        raise BadLabelError("give either corpora or --features, not both")
    tables = tables_from_features(args) if args.features else tables_from_audio(args, out_dir)
    vocal_gate(tables, models_dir, args)
    emo = None if args.no_classifier else label_table(args, tables, out_dir, "emotion")
    bursts = None if args.no_classifier else label_table(args, tables, out_dir, "burst_emotion")
    bar = None
    if show_progress(args):
        from tqdm import tqdm
        bar = tqdm(total=len(args.targets) + (emo is not None), unit="model", desc="training (nested CV)",
                   dynamic_ncols=True)
    try:
        reports, all_folds, figs = _train_all(args, tables, emo, out_dir, models_dir, bar)
        if bursts is not None:
            train_classifier(bursts, args, out_dir, models_dir, label="burst_emotion")
    finally:
        if bar is not None:
            bar.close()
    report = pd.concat(reports, ignore_index=True)
    write_csv(report, out_dir / "cv_report.csv")
    write_csv(pd.concat(all_folds, ignore_index=True), out_dir / "cv_folds.csv")
    fig = plot_pred_vs_true(figs, out_dir / "cv_predicted_vs_true", title="Grouped nested CV")
    if not args.quiet:
        print(format_report(report))
        print(f"\nwrote {out_dir / 'cv_report.csv'}, {fig} and models in {models_dir}")
    return 0


def _train_all(args, tables, emo, out_dir, models_dir, bar):
    """Train and save the VA models (and the classifier when ``emo`` is given); return their reports."""
    reports, all_folds, figs = [], [], {}
    for target in args.targets:
        if bar is not None:
            bar.set_postfix_str(target)
        table = tables[target]
        search, folds, summary, oof, uncertainty = train_target(target, table, args)
        reports.append(summary)
        all_folds.append(folds.assign(target=target))
        figs[target] = pd.DataFrame({"y": table[target], "yhat": oof, "corpus": table["corpus"]})
        allrow = summary[summary["subset"] == "all"].set_index("metric")
        meta = {
            "kind": "va", "target": target, "name": f"{target}_{DEFAULT_RECIPES['regression']}",
            "recipe": DEFAULT_RECIPES["regression"],
            "chosen_by": "evaluate_models.py (docs/RESULTS.md)",
            "feature_names": list(feature_names(DEFAULT_CONFIG)), "extractor": DEFAULT_CONFIG.to_dict(),
            "training_data": {"sha256": data_hash(table), "n_files": int(len(table)),
                              "n_groups": int(table["group"].nunique()),
                              "corpora": table["corpus"].value_counts().to_dict(),
                              "source": [str(p) for p in args.features] if args.features else "audio"},
            "best_params": search.best_params_,
            "cv": {"scheme": f"nested GroupKFold {args.folds}x{args.inner_folds}, seed {args.seed}",
                   **{m: {"mean": float(allrow.loc[m, "mean"]), "std": float(allrow.loc[m, "std"])}
                      for m in allrow.index},
                   "per_subset": summary.to_dict(orient="records")},
            **uncertainty,
        }
        sha = save_model(search.best_estimator_, models_dir / MODEL_FILES[target], metadata=meta)
        log.debug("%s model: %s (sha256 %s…)", target, models_dir / MODEL_FILES[target], sha[:12])
        if bar is not None:
            bar.update(1)
    if emo is not None:
        if bar is not None:
            bar.set_postfix_str("emotion classifier")
        train_classifier(emo, args, out_dir, models_dir)
        if bar is not None:
            bar.update(1)
    return reports, all_folds, figs


def vocal_gate(tables, models_dir, args) -> None:
    """Fit YAMNet's speech-or-vocal-burst gate on RAVDESS (speech) and EmoGator (bursts), when both are there.

    Written to ``<models-dir>/vocal_gate.json``; :func:`va_yamnet.domain` reads the
    shipped one (``models/vocal_gate.json``), so training into ``models/`` updates it.
    """
    import va_yamnet
    table = next(iter(tables.values()))
    voices = table[table["corpus"].isin(["ravdess", "emogator"])]
    if voices["corpus"].nunique() < 2:
        return
    cols = [f"yamnet.score.{i}" for i in range(va_yamnet.N_CLASSES)]
    if not set(cols) <= set(voices.columns):
        return
    gate = va_yamnet.fit_vocal_gate(voices[cols].to_numpy(float), (voices["corpus"] == "emogator").to_numpy(),
                                    voices["group"].astype(str).to_numpy(), folds=args.folds)
    gate["trained_on"] = {"speech": "RAVDESS", "bursts": "EmoGator", "by": "train_emo_model.py"}
    write_json(gate, Path(models_dir) / VOCAL_GATE_FILE)
    va_yamnet._gate.cache_clear()
    if not args.quiet:
        cv = gate["cv"]
        print(f"vocal gate (speaker-grouped CV): {cv['bursts_called_vocal']:.1%} of {cv['n_bursts']} bursts and "
              f"{cv['speech_called_vocal']:.1%} of {cv['n_speech']} sentences called vocal bursts")


def label_table(args, tables, out_dir, column: str = "emotion"):
    """Features + ``column`` (``emotion``: RAVDESS; ``burst_emotion``: EmoGator) of every labelled file, or None."""
    table = next(iter(tables.values()))
    if column in table.columns:
        lab = table
    else:
        path = args.labels
        if path is None:
            cand = (Path(args.features[0]).parent if args.features else Path(out_dir)) / "out_labels.csv"
            path = cand if cand.is_file() else None
        if path is None:
            return None
        labels = read_csv(path, required=["sha256"], key="sha256")
        if column not in labels.columns:
            return None
        lab = table.merge(labels[["sha256", column]], on="sha256", how="inner")
    lab = lab[lab[column].notna() & (lab[column].astype(str) != "")].reset_index(drop=True)
    if lab.empty or lab[column].nunique() < 2 or lab["group"].nunique() < 2:
        return None
    return lab


CLASSIFIERS = {"emotion": (CLASSIFIER_FILE, "cv_emotion_report.csv", "emotion classifier"),
               "burst_emotion": (BURST_CLASSIFIER_FILE, "cv_burst_report.csv", "vocal-burst classifier")}


def train_classifier(table, args, out_dir, models_dir, label: str = "emotion"):
    """Nested grouped CV of a category classifier (speech emotions, or vocal-burst emotions), then
    fit on everything and save it."""
    file, report_file, title = CLASSIFIERS[label]
    names = list(feature_names(DEFAULT_CONFIG))
    X, y = table[names].to_numpy(float), table[label].astype(str).to_numpy()
    groups = table["group"].astype(str).to_numpy()
    pipe, grid = make_model(DEFAULT_RECIPES["classification"], "classification", names)
    log.debug("emotion classifier: nested grouped CV on %d files, %d classes, %d groups", len(y),
             len(np.unique(y)), len(np.unique(groups)))
    folds = fixed_folds(groups, args.folds, seed=args.seed)
    oof, _ = oof_predict(pipe, grid, X, y, groups, folds, inner_folds=args.inner_folds,
                         scoring="balanced_accuracy", jobs=args.jobs, seed=args.seed)
    per_fold = pd.DataFrame([{"fold": k, "n": int(te.size), **classification_metrics(y[te], oof[te])}
                             for k, (_, te) in enumerate(folds)])
    report = pd.DataFrame([{"target": label, "metric": m, "mean": per_fold[m].mean(),
                            "std": per_fold[m].std(ddof=1), "folds": len(per_fold), "n": int(per_fold["n"].sum())}
                           for m in ("uar", "accuracy")])
    write_csv(report, out_dir / report_file)
    labels_sorted = sorted(np.unique(y))
    write_csv(pd.DataFrame(confusion(y, oof, labels_sorted), index=labels_sorted, columns=labels_sorted)
              .rename_axis("true").reset_index(), out_dir / report_file.replace("_report.csv", "_confusion.csv"))
    search = fit_search(pipe, grid, X, y, groups, folds=args.folds, jobs=args.jobs, seed=args.seed,
                        scoring="balanced_accuracy")
    share = out_of_range_share(search.best_estimator_, X, z=DOMAIN_Z)
    meta = {
        "domain_gate": {"z": DOMAIN_Z, "max_share": float(share.max()),
                        "meaning": "a file whose share of standardised features beyond ±z exceeds max_share "
                                   "(the largest share among the training files) is unlike the training data"},
        "kind": "emotion", "target": label, "name": f"{label}_{DEFAULT_RECIPES['classification']}",
        "recipe": DEFAULT_RECIPES["classification"], "chosen_by": "evaluate_models.py (docs/RESULTS.md)",
        "classes": [str(c) for c in search.best_estimator_.classes_],
        "feature_names": names, "extractor": DEFAULT_CONFIG.to_dict(),
        "training_data": {"sha256": data_hash(table[["sha256", label] + names]), "n_files": int(len(table)),
                          "n_groups": int(table["group"].nunique()),
                          "corpora": table["corpus"].value_counts().to_dict()},
        "best_params": search.best_params_,
        "cv": {"scheme": f"nested GroupKFold {args.folds}x{args.inner_folds}, seed {args.seed}",
               **{r.metric: {"mean": float(r.mean), "std": float(r.std)} for r in report.itertuples()}},
    }
    sha = save_model(search.best_estimator_, models_dir / file, metadata=meta)
    if not args.quiet:
        r = report.set_index("metric")
        print(f"{title} ({len(np.unique(y))} classes, {len(y)} files): UAR {r.loc['uar', 'mean']:.3f} ± "
              f"{r.loc['uar', 'std']:.3f}, accuracy {r.loc['accuracy', 'mean']:.3f} ± {r.loc['accuracy', 'std']:.3f}")
    log.debug("%s: %s (sha256 %s…)", title, models_dir / file, sha[:12])


def format_report(report: pd.DataFrame) -> str:
    """The CV report as an aligned text table: one row per target and subset."""
    rows = []
    for (target, subset), g in report.groupby(["target", "subset"], sort=False):
        g = g.set_index("metric")
        cells = [f"{g.loc[m, 'mean']:.3f} ± {g.loc[m, 'std']:.3f}" for m in ("r2", "rmse", "r", "ccc")]
        rows.append([target, subset, str(int(g["n"].iloc[0]))] + cells)
    head = ["target", "subset", "n", "R²", "RMSE", "r", "CCC"]
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


if __name__ == "__main__":
    exit_main(main)
