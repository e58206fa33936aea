"""The student-facing checks must pass the reference and fail, with a useful message, on typical bugs."""
import numpy as np
import pytest

from labutils import checks, rnn


def test_checks_pass_the_reference():
    checks.check_rnn_step_forward(rnn.rnn_step_forward)
    checks.check_rnn_step_backward(rnn.rnn_step_forward, rnn.rnn_step_backward)
    checks.check_rnn_forward(rnn.rnn_forward)
    checks.check_bptt(rnn.rnn_loss)


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
    def bad_loss(params, xs, targets, h0):
        loss, grads, h_last, dh0 = rnn.rnn_loss(params, xs, targets, h0)
        hs, _, _ = rnn.rnn_forward(xs, h0, params)
        wrong = grads.replace(Whh=grads.Whh + 0.1 * np.ones_like(grads.Whh))
        return loss, wrong, h_last, dh0
    with pytest.raises(AssertionError, match="gradient for Whh"):
        checks.check_bptt(bad_loss)
