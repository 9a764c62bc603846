"""The change-point check of the segment model: does emotion over time follow known changes?

Reads the RAVDESS and Emotify audio and the shipped training table
(``data/out_Arousal.csv.gz``); writes nothing (``evaluate_models.py`` reports the result in
``docs/RESULTS.md``).

Sequences with one known arousal change are built from held-out material:

* RAVDESS: three clips of one actor with high-arousal emotions (happy, disgust, angry,
  surprised), then three of the same actor with low-arousal ones (calm, neutral, sad),
  or the other way round; each clip's leading and trailing silence is trimmed, so the
  change is where the fourth clip starts;
* Emotify: the middle 15 s of a high-arousal track (top quartile of the listeners' ratings) then
  15 s of a low-arousal one (bottom quartile), or the other way round.

For each of the 5 grouped folds (actors, tracks), the shipped recipe is trained on the
training table without the fold's actors and tracks, and the sequences of that fold are
analysed with ``--segments``-style windows (3 s every 1 s). The change is estimated as
the split of the window sequence that best separates the predicted arousal before and
after (the largest between-part variance, ``j (n - j) / n * (mean_a - mean_b)^2``),
placed halfway between the two windows' centres. A change is found when the estimate
lies within one hop (1 s) of the truth and the predicted arousal moves the right way.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from essentia_engine import DEFAULT_CONFIG, analyse_segments, feature_names, trim_silence
from extractor import load_audio
from va_evaluation import fixed_folds
from va_utils import log

HIGH_RAVDESS = {"happy", "disgust", "angry", "surprised"}
LOW_RAVDESS = {"calm", "neutral", "sad"}


def estimate_change(centres: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """``(time, jump)``: the best single split of a sequence, and after-minus-before means."""
    n = len(pred)
    best, where, jump = -1.0, 0.5 * (centres[0] + centres[-1]), 0.0
    for j in range(1, n):
        a, b = pred[:j].mean(), pred[j:].mean()
        score = j * (n - j) / n * (a - b) ** 2
        if score > best:
            best, where, jump = score, 0.5 * (centres[j - 1] + centres[j]), b - a
    return where, jump


def _trimmed(path):
    y, _ = load_audio(path, sample_rate=DEFAULT_CONFIG.sample_rate)
    return trim_silence(y, 40.0, DEFAULT_CONFIG.sample_rate)


def _sequences(ravdess, emotify, test_groups, rng, per_actor: int):
    sr = DEFAULT_CONFIG.sample_rate
    out = []
    if ravdess is not None:
        for actor in sorted(set(ravdess["group"]) & test_groups):
            t = ravdess[ravdess["group"] == actor]
            hi, lo = t[t["emotion"].isin(HIGH_RAVDESS)], t[t["emotion"].isin(LOW_RAVDESS)]
            if len(hi) < 3 or len(lo) < 3:
                continue
            for k in range(per_actor):
                a = hi.sample(3, random_state=int(rng.integers(1 << 30)))["path"].tolist()
                b = lo.sample(3, random_state=int(rng.integers(1 << 30)))["path"].tolist()
                first, second, sign = (a, b, -1) if k % 2 == 0 else (b, a, 1)
                parts1 = [_trimmed(p) for p in first]
                parts2 = [_trimmed(p) for p in second]
                t0 = sum(len(p) for p in parts1) / sr
                out.append(("ravdess", np.concatenate(parts1 + parts2), t0, sign))
    if emotify is not None:
        t = emotify[emotify["group"].isin(test_groups)]
        q1, q3 = emotify["arousal"].quantile([0.25, 0.75])
        hi = t[t["arousal"] > q3].sample(frac=1, random_state=int(rng.integers(1 << 30)))["path"].tolist()
        lo = t[t["arousal"] < q1].sample(frac=1, random_state=int(rng.integers(1 << 30)))["path"].tolist()
        for k, (h, low) in enumerate(zip(hi, lo)):
            yh, _ = load_audio(h, sample_rate=sr)
            yl, _ = load_audio(low, sample_rate=sr)
            mid = lambda y: y[max(0, y.size // 2 - 15 * sr // 2): y.size // 2 + 15 * sr // 2]
            yh, yl = mid(yh), mid(yl)          # the middle 15 s (all of a shorter track)
            if min(yh.size, yl.size) < 4 * sr:
                continue
            first, second, sign = (yh, yl, -1) if k % 2 == 0 else (yl, yh, 1)
            out.append(("emotify", np.concatenate([first, second]), len(first) / sr, sign))
    return out


def change_point_check(ravdess: pd.DataFrame | None, emotify: pd.DataFrame | None, training: pd.DataFrame, *,
                       folds: int = 5, seed: int = 0, per_actor: int = 4, window: float = 3.0, hop: float = 1.0,
                       recipe: str | None = None, params: dict | None = None) -> pd.DataFrame:
    """One row per sequence: corpus, fold, true and estimated change, found or not.

    The model of each fold is ``recipe`` (default: the shipped regression recipe) with
    ``params`` (default: its grid's first point), refit on the training table without
    the fold's groups.
    """
    from va_models import DEFAULT_RECIPES, make_model
    names = list(feature_names(DEFAULT_CONFIG))
    groups = training["group"].to_numpy()
    rng = np.random.default_rng(seed)
    rows = []
    for k, (train_idx, test_idx) in enumerate(fixed_folds(groups, folds, seed=seed)):
        test_groups = set(groups[test_idx])
        train = training.iloc[train_idx]
        model, grid = make_model(recipe or DEFAULT_RECIPES["regression"], "regression", names, target="arousal")
        if params is None:
            grid0 = grid[0] if isinstance(grid, list) else grid
            params = {name: values[0] for name, values in grid0.items()}
        model.set_params(**params)
        model.fit(train[names].to_numpy(float), train["arousal"].to_numpy(float))
        for corpus, y, t0, sign in _sequences(ravdess, emotify, test_groups, rng, per_actor):
            starts, ends, X = analyse_segments(iter([y]), DEFAULT_CONFIG, window=window, hop=hop)
            pred = np.clip(model.predict(X), -1, 1)
            est, jump = estimate_change((starts + ends) / 2, pred)
            rows.append({"corpus": corpus, "fold": k, "true_change_s": t0, "estimated_s": est,
                         "error_s": est - t0, "jump": jump, "direction_ok": bool(np.sign(jump) == sign),
                         "found": bool(abs(est - t0) <= hop and np.sign(jump) == sign),
                         "found_within_window": bool(abs(est - t0) <= window and np.sign(jump) == sign),
                         "windows": len(pred)})
        log.info("change points: fold %d done (%d sequences so far)", k + 1, len(rows))
    return pd.DataFrame(rows)


def summary_markdown(rows: pd.DataFrame, *, window: float = 3.0, hop: float = 1.0) -> str:
    """The RESULTS.md section for :func:`change_point_check`'s rows."""
    lines = ["## Emotion over time: the change-point check", "",
             f"Sequences with one known arousal change, analysed in {window:g} s windows every {hop:g} s by models "
             "trained without the sequences' actors and tracks (5 grouped folds; `va_segments_eval.py` describes the "
             "construction). Target: the change found within ±1 window in at least 80% of cases; both readings of "
             "\"one window\" are reported.", "",
             f"| corpus | sequences | within ±1 hop ({hop:g} s) | within ±1 window length ({window:g} s) | "
             "right direction | median abs. error (s) |",
             "|---|---:|---:|---:|---:|---:|"]
    for corpus, g in list(rows.groupby("corpus")) + [("all", rows)]:
        lines.append(f"| {corpus} | {len(g)} | {g['found'].mean():.0%} | {g['found_within_window'].mean():.0%} | "
                     f"{g['direction_ok'].mean():.0%} | {g['error_s'].abs().median():.2f} |")
    hop_rate, win_rate = rows["found"].mean(), rows["found_within_window"].mean()
    lines += ["", f"Read as one hop (the strict reading, since consecutive windows are one hop apart): "
                  f"{hop_rate:.0%}, target 80% {'met' if hop_rate >= 0.8 else '**not met**'}. Read as one window "
                  f"length: {win_rate:.0%}, {'met' if win_rate >= 0.8 else '**not met**'}. A change counts only when "
                  "the predicted arousal also moves the right way."]
    return "\n".join(lines)


SECTION = ("<!-- changepoints:start -->", "<!-- changepoints:end -->")


def replace_section(doc: str, text: str, name: str = "changepoints") -> str:
    """``doc`` with its ``name`` section (between ``<!-- name:start -->`` and ``<!-- name:end -->``)
    replaced by ``text``; appended if absent."""
    start, end = (SECTION if name == "changepoints" else (f"<!-- {name}:start -->", f"<!-- {name}:end -->"))
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in doc and end in doc:
        return doc[:doc.index(start)] + block + doc[doc.index(end) + len(end):]
    return doc.rstrip() + "\n\n" + block + "\n"
