import numpy as np
import pytest

from labutils import charlm
from labutils.charlm import TrainSettings
from labutils.gradcheck import numerical_gradient, rel_error
from labutils.rnn import RNNParams


def small(rng, V=6, H=5, scale=0.3):
    p = RNNParams.init(V, H, V, rng, scale=scale)
    return p.replace(bh=rng.standard_normal((H, 1)) * 0.1, by=rng.standard_normal((V, 1)) * 0.1)


@pytest.mark.parametrize("T,H", [(25, 5), (1, 1), (3, 8)])
def test_fast_path_with_one_stream_reproduces_reference(rng, T, H):
    p = small(rng, H=H)
    inputs, targets = rng.integers(0, 6, T), rng.integers(0, 6, T)
    h = rng.standard_normal((H, 1)) * 0.5
    loss_a, grads_a, h_a = charlm.loss_fun(inputs, targets, h, p)
    loss_b, grads_b, h_b = charlm.batch_loss_fun(p, inputs[:, None], targets[:, None], h)
    assert abs(loss_a - loss_b) < 1e-8
    np.testing.assert_allclose(h_a, h_b, atol=1e-12)
    for (name, a), (_, b) in zip(grads_a.items(), grads_b.items()):
        assert np.max(np.abs(a - b)) < 1e-8, name


def test_streams_are_averaged(rng):
    p = small(rng)
    T, B = 4, 3
    inputs, targets = rng.integers(0, 6, (T, B)), rng.integers(0, 6, (T, B))
    h = rng.standard_normal((5, B))
    loss, grads, h_last = charlm.batch_loss_fun(p, inputs, targets, h)
    per_stream = [charlm.loss_fun(inputs[:, b], targets[:, b], h[:, [b]], p) for b in range(B)]
    assert loss == pytest.approx(np.mean([s[0] for s in per_stream]))
    np.testing.assert_allclose(grads.Whh, np.mean([s[1].Whh for s in per_stream], axis=0), atol=1e-12)
    np.testing.assert_allclose(h_last, np.hstack([s[2] for s in per_stream]), atol=1e-12)


def test_temperature_gradients_are_numerically_right(rng):
    p = small(rng)
    inputs, targets = rng.integers(0, 6, (5, 2)), rng.integers(0, 6, (5, 2))
    h = np.zeros((5, 2))
    _, grads, _ = charlm.batch_loss_fun(p, inputs, targets, h, temperature=2.0)
    numeric = numerical_gradient(lambda w: charlm.batch_loss_fun(p.replace(Why=w), inputs, targets, h, 2.0)[0], p.Why)
    assert rel_error(grads.Why, numeric) < 1e-7


def test_reference_and_fast_training_agree(rng):
    data = rng.integers(0, 6, 400)
    a = charlm.train(data, 6, TrainSettings(hidden_size=7, method="reference"), 30, progress=False)
    b = charlm.train(data, 6, TrainSettings(hidden_size=7, method="fast"), 30, progress=False)
    for (name, x), (_, y) in zip(a.params.items(), b.params.items()):
        np.testing.assert_allclose(x, y, atol=1e-9, err_msg=name)
    assert a.smooth_loss == pytest.approx(b.smooth_loss)


def test_smoothed_loss_starts_at_uniform_and_training_is_bounded(rng):
    data = rng.integers(0, 4, 300)
    first = charlm.train(data, 4, TrainSettings(hidden_size=3), 1, progress=False, log_every=1)
    expected = 0.999 * (-np.log(1 / 4) * 25)
    assert first.history["smooth_loss"][0] == pytest.approx(expected, rel=0.01)
    with pytest.raises(ValueError, match="unbounded"):
        charlm.train(data, 4)
    with pytest.raises(TypeError):
        charlm.train(data, 4, TrainSettings(), 1, time_budget=0.2)   # bounded by updates, never by seconds
    with pytest.raises(ValueError, match="one stream at temperature 1"):
        TrainSettings(method="reference", batch_size=2)


def test_training_reduces_loss_and_samples(rng):
    text = "abcabcabd" * 60
    data = np.array(["abcd".index(c) for c in text])
    result = charlm.train(data, 4, TrainSettings(hidden_size=16, batch_size=4), 400, sample_every=200, progress=False,
                          callback=lambda n, p, h, s: f"sample at {n}")
    assert result.smooth_loss < result.history["smooth_loss"][0] - 5
    assert [n for n, _ in result.samples] == [1, 200, 400]
    assert charlm.cross_entropy(result.params, data[:200]) < np.log(4) * 0.6


def test_too_many_streams_is_a_clear_error(rng):
    with pytest.raises(ValueError, match="too few"):
        charlm.train(rng.integers(0, 4, 100), 4, TrainSettings(batch_size=8), 1)


def test_params_for_other_vocab_rejected(rng):
    p = small(rng, V=6)
    with pytest.raises(ValueError, match="params are for 6 characters"):
        charlm.train(rng.integers(0, 4, 300), 4, TrainSettings(), 1, params=p)


def test_cross_entropy_matches_direct_computation(rng):
    p = small(rng)
    data = rng.integers(0, 6, 50)
    h, total = np.zeros((5, 1)), 0.0
    for t in range(49):
        h = np.tanh(p.Wxh[:, [data[t]]] + p.Whh @ h + p.bh)
        y = p.Why @ h + p.by
        total += -(y[data[t + 1], 0] - np.log(np.exp(y).sum()))
    assert charlm.cross_entropy(p, data) == pytest.approx(total / 49)
    with pytest.raises(ValueError):
        charlm.cross_entropy(p, data[:1])


def test_unigram_baseline():
    train_data = np.array([0, 0, 0, 1])
    assert charlm.unigram_cross_entropy(train_data, np.array([0]), 2) == pytest.approx(-np.log(4 / 6))


def test_updates_step_in_place_and_match_train(rng):
    data = rng.integers(0, 5, 600)
    p = RNNParams.init(5, 6, 5, np.random.default_rng(0))
    before = p.Whh.copy()
    steps = charlm.updates(data, p, p.zeros_like(), batch_size=3, learning_rate=0.2)
    losses = [next(steps)[0] for _ in range(12)]
    assert not np.array_equal(before, p.Whh) and all(np.isfinite(losses))
    trained = charlm.train(data, 5, TrainSettings(hidden_size=6, batch_size=3, learning_rate=0.2), 12, progress=False)
    np.testing.assert_array_equal(trained.params.Whh, p.Whh)    # train is these steps, bounded


def test_updates_check_streams_before_the_first_step(rng):
    p = RNNParams.init(4, 3, 4, rng)
    with pytest.raises(ValueError, match="too few"):
        charlm.updates(rng.integers(0, 4, 100), p, p.zeros_like(), batch_size=8)


def test_adam_first_step_is_learning_rate_times_sign_and_clips(rng):
    p = small(rng)
    grads = p.map(lambda a: rng.standard_normal(a.shape) * 10)
    signs = grads.map(np.sign)
    before = p.map(np.copy)
    state = charlm.AdamState.like(p)
    charlm.adam_update(p, grads, state, learning_rate=0.01, clip=5.0)
    for (name, a), (_, b), (_, s) in zip(before.items(), p.items(), signs.items()):
        np.testing.assert_allclose(a - b, 0.01 * s, rtol=1e-5, err_msg=name)   # bias-corrected: m/sqrt(v) = sign
    assert state.step == 1 and np.max(np.abs(state.m.Whh)) <= 0.1 * 5.0 + 1e-12   # moments of clipped gradients


def test_adam_training_learns_and_unknown_optimizer_is_refused(rng):
    data = np.array(["abcd".index(c) for c in "abcabcabd" * 60])
    result = charlm.train(data, 4, TrainSettings(hidden_size=16, batch_size=4, optimizer="adam", learning_rate=0.01),
                          300, progress=False)
    assert isinstance(result.memory, charlm.AdamState) and result.memory.step == 300
    assert charlm.cross_entropy(result.params, data[:200]) < np.log(4) * 0.6
    with pytest.raises(ValueError, match="optimizer must be one of"):
        charlm.train(data, 4, TrainSettings(optimizer="sgd"), 1)


def test_early_stopping_keeps_the_best_parameters(rng):
    data = np.array(["abcd".index(c) for c in "abcabcabd" * 80])
    val = charlm.BestOnValidation(data[:60], every=20, patience=3)
    result = charlm.train(data, 4, TrainSettings(hidden_size=16, batch_size=4, optimizer="adam", learning_rate=0.02),
                          5000, validation=val, progress=False)
    assert val.converged and result.iterations == val.best_iteration + 3 * 20 < 5000
    assert charlm.cross_entropy(result.params, data[:60]) == pytest.approx(val.best_ce)
    assert val.best_ce == min(val.history["ce"])


def test_adam_weight_decay_shrinks_weights_not_biases(rng):
    p = small(rng)
    before = p.map(np.copy)
    charlm.adam_update(p, p.zeros_like(), charlm.AdamState.like(p), learning_rate=0.01, weight_decay=2.0)
    np.testing.assert_allclose(p.Whh, before.Whh * (1 - 0.02))
    np.testing.assert_array_equal(p.bh, before.bh)
    with pytest.raises(ValueError, match="weight_decay and lr_halflife are Adam's"):
        charlm.updates(rng.integers(0, 6, 300), p, p.zeros_like(), weight_decay=0.1)


def test_adam_learning_rate_halves_every_halflife(rng):
    p = small(rng)
    state = charlm.AdamState.like(p)
    state.step = 9                      # the next step is the 10th: 0.5 ** (10 / 10) of the learning rate
    before = p.Whh.copy()
    grads = p.map(lambda a: np.full(a.shape, 2.0))
    state.m, state.v = grads.map(np.copy), grads.map(lambda a: a * a)     # steady moments: m / sqrt(v) = 1
    charlm.adam_update(p, grads, state, learning_rate=0.01, lr_halflife=10, betas=(0.9, 0.999))
    step = 0.005 * np.sqrt(1 - 0.999 ** 10) / (1 - 0.9 ** 10)
    np.testing.assert_allclose(before - p.Whh, step, rtol=1e-6)


def test_keep_freed_memory_is_safe_to_call_twice():
    import platform
    first, second = charlm.keep_freed_memory(), charlm.keep_freed_memory()
    assert first == second and (first or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc")
