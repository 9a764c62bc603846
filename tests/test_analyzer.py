"""Known answers of the descriptor-pair scoring."""
import numpy as np
import pytest

from va_analyzer import descriptor_scores, pair_scores, top_descriptors
from va_utils import EmoTagError

A = np.array([[1.0, 0.0]])
B = np.array([[-1.0, 0.0]])


def test_midpoint_scores_half():
    s = pair_scores(np.array([[0.0, 0.0]]), A, B)
    assert np.allclose(s[0, 0], [0.5, 0.5])


def test_reference_formula_eps_one():
    # d1 = 0.5, d2 = 1.5 -> s1 = 1/1.5, s2 = 1/2.5 -> score_a = 0.625
    s = pair_scores(np.array([[0.5, 0.0]]), A, B)
    assert np.isclose(s[0, 0, 0], 0.625, rtol=1e-12)
    assert np.isclose(s[0, 0].sum(), 1.0)


def test_eps_changes_sharpness():
    p = np.array([[0.5, 0.0]])
    sharp = pair_scores(p, A, B, eps=0.1)[0, 0, 0]
    # d1 = 0.5, d2 = 1.5: (1/0.6) / (1/0.6 + 1/1.6) = 0.7272...
    assert np.isclose(sharp, (1 / 0.6) / (1 / 0.6 + 1 / 1.6))
    assert sharp > pair_scores(p, A, B, eps=1.0)[0, 0, 0]


def test_on_word_scores_one_even_with_eps_zero():
    s = pair_scores(A, A, B, eps=0.0)
    assert s[0, 0, 0] == 1.0 and s[0, 0, 1] == 0.0
    s = pair_scores(B, A, B, eps=1.0)
    assert s[0, 0, 0] == 0.0 and s[0, 0, 1] == 1.0


def test_both_distances_zero_gives_half():
    s = pair_scores(A, A, A, eps=0.0)
    assert np.allclose(s[0, 0], [0.5, 0.5])


def test_vectorised_shape_and_range():
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, (50, 2))
    ca, cb = rng.uniform(-1, 1, (7, 2)), rng.uniform(-1, 1, (7, 2))
    s = pair_scores(pts, ca, cb)
    assert s.shape == (50, 7, 2)
    assert np.allclose(s.sum(-1), 1) and (s >= 0).all() and (s <= 1).all()
    # each entry equals the scalar formula
    i, j = 13, 4
    d1, d2 = np.linalg.norm(pts[i] - ca[j]), np.linalg.norm(pts[i] - cb[j])
    assert np.isclose(s[i, j, 0], (1 / (1 + d1)) / (1 / (1 + d1) + 1 / (1 + d2)))


def test_bad_input_raises():
    with pytest.raises(EmoTagError, match="eps must be >= 0"):
        pair_scores(A, A, B, eps=-1)
    with pytest.raises(EmoTagError, match="finite"):
        pair_scores(np.array([[np.nan, 0.0]]), A, B)


def test_descriptor_scores_with_shipped_pairs():
    df = descriptor_scores([0.75], [-0.9])  # exactly the lexicon point of "calm"
    assert df.loc[0, "calm"] == 1.0 and df.loc[0, "chaotic"] == 0.0
    assert df.shape == (1, 30)
    top = top_descriptors(df, 3)[0]
    assert top[0] == "calm" and len(top) == 3
