"""Localized descriptor-pair scores in the valence-arousal plane.

Reads and writes no files. For a point p and a pair of words (w1, w2) at lexicon
coordinates, with d_i = ||p - w_i||::

    s_i = 1 / (eps + d_i)          score_i = s_i / (s_1 + s_2)

so the two scores of a pair sum to 1 and the nearer word scores higher. ``eps`` = 1 is
the reference method; a smaller ``eps`` makes scores sharper near the words. Edge cases:
if both distances are 0 each word scores 0.5; if one distance is 0 that word scores 1.

Example::

    >>> import numpy as np
    >>> from va_analyzer import pair_scores
    >>> pair_scores(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([[-1.0, 0.0]]))[..., 0]
    array([[0.5]])
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from va_data_loader import load_descriptor_pairs, load_lexicon, word_coords
from va_utils import EmoTagError


def pair_scores(points, coords_a, coords_b, *, eps: float = 1.0) -> np.ndarray:
    """Scores of every point against every pair, vectorised.

    Parameters
    ----------
    points : array, shape (n, 2)
        (valence, arousal) per file, each in [-1, 1].
    coords_a, coords_b : array, shape (m, 2)
        Coordinates of the first and second word of each pair.
    eps : float >= 0
        Softening constant; 1 is the reference method.

    Returns
    -------
    scores : np.ndarray, shape (n, m, 2), values in [0, 1]
        ``scores[..., 0]`` for word a, ``scores[..., 1]`` for word b; they sum to 1.
    """
    if eps < 0:
        raise EmoTagError(f"eps must be >= 0, given eps={eps}")
    p = np.asarray(points, dtype=float).reshape(-1, 1, 2)
    a = np.asarray(coords_a, dtype=float).reshape(1, -1, 2)
    b = np.asarray(coords_b, dtype=float).reshape(1, -1, 2)
    if not np.isfinite(p).all():
        raise EmoTagError("valence/arousal points must be finite")
    d1 = np.linalg.norm(p - a, axis=-1)
    d2 = np.linalg.norm(p - b, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s1, s2 = 1.0 / (eps + d1), 1.0 / (eps + d2)
        score_a = s1 / (s1 + s2)
    z1, z2 = d1 == 0, d2 == 0
    score_a = np.where(z1 & z2, 0.5, np.where(z1, 1.0, np.where(z2, 0.0, score_a)))
    return np.stack([score_a, 1.0 - score_a], axis=-1)


def descriptor_scores(valence, arousal, *, pairs: pd.DataFrame | None = None,
                      lexicon: pd.DataFrame | None = None, eps: float = 1.0) -> pd.DataFrame:
    """One column per descriptor word (pairs order: a1, b1, a2, b2, ...), one row per point."""
    lexicon = load_lexicon() if lexicon is None else lexicon
    pairs = load_descriptor_pairs(lexicon=lexicon) if pairs is None else pairs
    ca = word_coords(lexicon, pairs["word_a"])
    cb = word_coords(lexicon, pairs["word_b"])
    s = pair_scores(np.column_stack([valence, arousal]), ca, cb, eps=eps)
    cols, data = [], []
    for j, (wa, wb) in enumerate(zip(pairs["word_a"], pairs["word_b"])):
        cols += [wa, wb]
        data += [s[:, j, 0], s[:, j, 1]]
    return pd.DataFrame(np.column_stack(data) if data else np.zeros((len(s), 0)), columns=cols)


def top_descriptors(scores: pd.DataFrame, k: int = 3) -> list[list[str]]:
    """The ``k`` highest-scoring words of each row."""
    arr = scores.to_numpy()
    idx = np.argsort(-arr, axis=1, kind="stable")[:, :k]
    return [[scores.columns[i] for i in row] for row in idx]


def nearest_category(valence, arousal, *, lexicon: pd.DataFrame | None = None, words=None,
                     sigma: float = 0.25) -> pd.DataFrame:
    """Map predicted (valence, arousal) onto the nearest category word.

    For corpora and files without a category model. Each word ``k`` at lexicon
    coordinates ``c_k`` gets ``p_k ∝ exp(-||x - c_k||² / (2 sigma²))``; the label is the
    nearest word and the confidence its ``p_k`` (1 when no other word is near, about
    1/K in the middle of K equidistant words).

    Parameters
    ----------
    words : list of str
        Category words (default: the eight RAVDESS categories).
    sigma : float
        Width, in VA units, of each word's neighbourhood.

    Returns
    -------
    DataFrame with ``emotion_label, emotion_confidence``, one row per point.
    """
    from va_data_loader import RAVDESS_EMOTIONS
    words = list(words) if words is not None else list(RAVDESS_EMOTIONS.values())
    lexicon = load_lexicon() if lexicon is None else lexicon
    C = word_coords(lexicon, words, source="emotion categories")
    P = np.column_stack([np.asarray(valence, float), np.asarray(arousal, float)])
    d2 = ((P[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    logits = -d2 / (2 * sigma ** 2)
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    k = w.argmax(axis=1)
    return pd.DataFrame({"emotion_label": np.asarray(words, dtype=object)[k],
                         "emotion_confidence": w[np.arange(len(k)), k]})
