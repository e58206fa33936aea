import numpy as np
import pytest

from labutils import rnn
from labutils.gradcheck import grad_check, numerical_gradient, rel_error


def random_problem(rng, T, D, H, V, N):
    params = rnn.RNNParams.init(D, H, V, rng, scale=0.5)
    params = params.replace(bh=rng.standard_normal((H, 1)) * 0.1, by=rng.standard_normal((V, 1)) * 0.1)
    return params, rng.standard_normal((T, D, N)), rng.integers(0, V, (T, N)), rng.standard_normal((H, N)) * 0.5


@pytest.mark.parametrize("T,D,H,V,N", [(1, 1, 1, 2, 1), (1, 3, 4, 3, 2), (6, 4, 5, 3, 3), (4, 2, 1, 4, 2)])
def test_bptt_matches_numerical_gradients(rng, T, D, H, V, N):
    params, xs, targets, h0 = random_problem(rng, T, D, H, V, N)
    loss, grads, h_last, dh0 = rnn.rnn_loss(params, xs, targets, h0)
    errors = grad_check(params, lambda p: rnn.rnn_loss(p, xs, targets, h0)[0], grads)
    assert max(errors.values()) < 1e-7, errors
    numeric_h0 = numerical_gradient(lambda v: rnn.rnn_loss(params, xs, targets, v)[0], h0)
    assert rel_error(dh0, numeric_h0) < 1e-7
    assert h_last.shape == (H, N) and np.isfinite(loss)


def test_shapes(rng):
    params, xs, targets, h0 = random_problem(rng, 5, 3, 4, 6, 2)
    hs, logits, _ = rnn.rnn_forward(xs, h0, params)
    assert hs.shape == (5, 4, 2) and logits.shape == (5, 6, 2)
    h, _ = rnn.rnn_step_forward(xs[0], h0, params.Wxh, params.Whh, params.bh)
    np.testing.assert_allclose(h, hs[0])


def test_zero_hidden_state_and_zero_weights_give_uniform_loss(rng):
    V, T = 5, 3
    params = rnn.RNNParams.init(2, 3, V, rng, scale=0.0)
    loss, grads, h_last, _ = rnn.rnn_loss(params, np.zeros((T, 2, 1)), np.zeros((T, 1), int), np.zeros((3, 1)))
    assert loss == pytest.approx(T * np.log(V))
    assert np.all(h_last == 0)


def test_softmax_is_stable_for_huge_logits():
    p = rnn.softmax(np.array([[1000.0, -1000.0], [1001.0, -999.0], [-1e308, 5.0]]), axis=0)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=0), 1.0)
    assert p[1, 0] == pytest.approx(1 / (1 + np.exp(-1)))


def test_bad_shapes_are_named(rng):
    params = rnn.RNNParams.init(3, 4, 5, rng)
    with pytest.raises(ValueError, match="xs has shape"):
        rnn.rnn_forward(np.zeros((2, 7, 1)), np.zeros((4, 1)), params)
    with pytest.raises(ValueError, match="h0 has shape"):
        rnn.rnn_forward(np.zeros((2, 3, 1)), np.zeros((4, 2)), params)
    with pytest.raises(ValueError, match="Whh has shape"):
        params.replace(Whh=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="targets has shape"):
        rnn.softmax_cross_entropy(np.zeros((2, 5, 1)), np.zeros((3, 1), int))


def test_linear_gradient_growth_matches_spectral_radius():
    for radius in (0.5, 2.0):
        norms, _ = rnn.gradient_norms_for_radius(radius, 40, 60, np.random.default_rng(0), "linear")
        assert rnn.growth_rate(norms, skip=10) == pytest.approx(radius, rel=0.05)


def test_tanh_never_grows_faster_than_linear_bound():
    norms, Whh = rnn.gradient_norms_for_radius(1.5, 30, 40, np.random.default_rng(0), "tanh")
    bound = np.linalg.norm(Whh, 2) ** np.arange(41)
    assert np.all(norms <= bound * (1 + 1e-9))


def test_hidden_gradients_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        rnn.hidden_gradients(np.eye(2), np.zeros((1, 2, 1)), np.ones((2, 1)), "relu")
