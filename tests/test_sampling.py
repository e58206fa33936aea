import numpy as np
import pytest

from labutils import sampling
from labutils.rnn import RNNParams


def model(rng, V=7, H=6):
    return RNNParams.init(V, H, V, rng, scale=1.0)


def test_softmax_with_temperature_limits():
    logits = np.array([1.0, 2.0, 3.0])
    cold = sampling.softmax_with_temperature(logits, 1e-4)
    np.testing.assert_allclose(cold, [0, 0, 1], atol=1e-12)
    hot = sampling.softmax_with_temperature(logits, 1e6)
    np.testing.assert_allclose(hot, 1 / 3, atol=1e-5)
    big = sampling.softmax_with_temperature(np.array([1e308, 0.0]), 0.5)
    assert np.all(np.isfinite(big)) and big[0] == 1.0


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_temperature_is_an_error(bad):
    with pytest.raises(ValueError, match="greedy"):
        sampling.softmax_with_temperature(np.zeros(3), bad)


def test_sampling_is_reproducible_with_a_seeded_generator(rng):
    m = model(rng)
    h = np.zeros((6, 1))
    a, _ = sampling.sample(m, h, 0, 50, 1.0, np.random.default_rng(3))
    b, _ = sampling.sample(m, h, 0, 50, 1.0, np.random.default_rng(3))
    c, _ = sampling.sample(m, h, 0, 50, 1.0, np.random.default_rng(4))
    assert a == b and a != c and len(a) == 50 and all(0 <= i < 7 for i in a)
    with pytest.raises(ValueError, match="rng"):
        sampling.sample(m, h, 0, 5)


def test_greedy_takes_argmax(rng):
    m = model(rng)
    ixs, _ = sampling.sample(m, np.zeros((6, 1)), 2, 5, greedy=True)
    h, ix = np.zeros((6, 1)), 2
    for got in ixs:
        h = np.tanh(m.Wxh[:, [ix]] + m.Whh @ h + m.bh)
        ix = int(np.argmax(m.Why @ h + m.by))
        assert got == ix


def test_measures():
    assert sampling.entropy(np.array([0.5, 0.5])) == pytest.approx(np.log(2))
    assert sampling.entropy(np.array([1.0, 0.0])) == 0.0
    assert sampling.real_word_fraction("The cat, the dog'", {"the", "dog"}) == pytest.approx(3 / 4)
    assert sampling.real_word_fraction("... !!", {"a"}) == 0.0
    assert sampling.repeated_ngram_rate("abcdefgh", 2) == 0.0
    assert sampling.repeated_ngram_rate("aaaaaaaa", 2) == pytest.approx(1 - 1 / 7)
    assert sampling.repeated_ngram_rate("", 8) == 0.0
