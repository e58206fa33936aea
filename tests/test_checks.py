"""The student-facing checks must pass the reference and fail, with a useful message, on typical bugs."""
import numpy as np
import pytest

from labutils import checks, rnn


def test_checks_pass_the_reference():
    checks.check_rnn_step_forward(rnn.rnn_step_forward)
    checks.check_rnn_step_backward(rnn.rnn_step_forward, rnn.rnn_step_backward)
    checks.check_rnn_forward(rnn.rnn_forward)
    checks.check_bptt(rnn.rnn_forward, rnn.rnn_backward)


def test_forward_without_bias_fails():
    def no_bias(x, h_prev, Wxh, Whh, bh):
        return rnn.rnn_step_forward(x, h_prev, Wxh, Whh, 0 * bh)
    with pytest.raises(AssertionError, match="h is wrong"):
        checks.check_rnn_step_forward(no_bias)


def test_unimplemented_exercise_says_so():
    def todo(*args):
        raise NotImplementedError()
    with pytest.raises(NotImplementedError, match="not implemented yet"):
        checks.check_rnn_step_forward(todo)


def test_fallback_uses_reference_until_implemented(capsys):
    def todo(x):
        raise NotImplementedError()
    f = checks.fallback(todo, lambda x: x + 1)
    assert f(1) == 2 and f(2) == 3
    assert capsys.readouterr().out.count("not implemented yet") == 1
    assert checks.fallback(lambda x: x * 10, lambda x: x + 1)(2) == 20


def test_backward_missing_tanh_derivative_names_the_gradient():
    def bad_backward(dh, cache):
        x, h_prev, Wxh, Whh, h = cache
        return Wxh.T @ dh, Whh.T @ dh, dh @ x.T, dh @ h_prev.T, dh.sum(1, keepdims=True)
    with pytest.raises(AssertionError, match="dx is wrong"):
        checks.check_rnn_step_backward(rnn.rnn_step_forward, bad_backward)


def test_bptt_with_swapped_state_names_Whh():
    def bad_backward(dlogits, cache):
        grads, dh0 = rnn.rnn_backward(dlogits, cache)
        return grads.replace(Whh=grads.Whh + 0.1 * np.ones_like(grads.Whh)), dh0
    with pytest.raises(AssertionError, match="gradient for Whh"):
        checks.check_bptt(rnn.rnn_forward, bad_backward)


def test_a_wrong_forward_costs_only_its_own_check():
    def no_bias(x, h_prev, Wxh, Whh, bh):
        return rnn.rnn_step_forward(x, h_prev, Wxh, Whh, 0 * bh)
    checks.check_rnn_step_backward(no_bias, rnn.rnn_step_backward)

    def forward_with_bad_step(xs, h0, params):
        return rnn.rnn_forward(xs, h0, params)
    checks.check_rnn_forward(forward_with_bad_step)


def test_forgotten_memory_update_is_named():
    from labutils import charlm

    def no_memory(params, grads, memory, learning_rate=0.1, clip=5.0):
        for (_, p), (_, g), (_, m) in zip(params.items(), grads.items(), memory.items()):
            np.clip(g, -clip, clip, out=g)
            m = m + g * g
            p -= learning_rate * g / np.sqrt(m + 1e-8)
    with pytest.raises(AssertionError, match="memory did not change"):
        checks.check_adagrad_update(no_memory)
    checks.check_adagrad_update(charlm.adagrad_update)


def test_softmax_without_max_subtraction_fails():
    def naive(logits, temperature=1.0):
        if temperature <= 0:
            raise ValueError("temperature")
        e = np.exp(logits / temperature)
        return e / e.sum(axis=0, keepdims=True)
    with pytest.raises(AssertionError, match="subtract the maximum"):
        checks.check_softmax_with_temperature(naive)


def test_checks_round_trip_as_plain_data():
    from labutils.checkspec import roundtrip
    out = roundtrip({"a": (np.arange(3), 1.5, float("nan")), "b": [None, "x", True], "c": object()})
    assert isinstance(out["a"], tuple) and np.array_equal(out["a"][0], np.arange(3)) and np.isnan(out["a"][2])
    assert out["b"] == [None, "x", True] and out["c"] == {"__object__": "object"}


def test_fallback_uses_reference_while_the_check_fails(capsys):
    def wrong(x, h_prev, Wxh, Whh, bh):
        return rnn.rnn_step_forward(x, h_prev, Wxh, Whh, 0 * bh)
    with pytest.raises(AssertionError):
        checks.check_rnn_step_forward(wrong)
    f = checks.fallback(wrong, rnn.rnn_step_forward)
    args = checks._step_args(checks._step_cases(0)[0])
    assert np.allclose(f(*args)[0], rnn.rnn_step_forward(*args)[0])
    assert "does not pass its check yet" in capsys.readouterr().out
    checks.check_rnn_step_forward(rnn.rnn_step_forward)
    mine = checks.fallback(rnn.rnn_step_forward, lambda *a: "reference")
    assert mine(*args) != "reference"
