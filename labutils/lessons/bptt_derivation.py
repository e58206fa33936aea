"""Notebook 01's lesson: its budgets (Budget) and checks: one RNN step forward and backward, the forward pass over a
sequence, and BPTT."""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from labutils import rnn
from labutils.checks.framework import Check, assert_close, expect_array, expect_tuple, is_close, run_check
from labutils.checks.mistakes import Mistake
from labutils.checks.numpy_rnn import (
    TOL,
    as_params,
    bptt_in_time_order,
    common_factor,
    earlier_is_wrong,
    factor_message,
    no_carry,
    params_from,
    same_gradients,
    unchanged,
    wrong_gradients,
)
from labutils.config import LessonBudget, per_mode
from labutils.gradcheck import numerical_gradient, rel_error


@dataclass(frozen=True)
class Budget(LessonBudget):
    """Notebook 01's budgets: the training run on your own gradients, and the size of the gradient-flow experiments."""
    hidden: int = per_mode(100, 50)        # hidden size of the gradient-flow experiments
    t_long: int = per_mode(100, 60)        # sequence length of those experiments
    recall_steps: int = per_mode(400, 300)  # updates of the delayed-recall RNN trained with your BPTT


STEP_ARGS = ("x", "h_prev", "Wxh", "Whh", "bh")


def _random_step(rng, D=4, H=5, N=3):
    x = rng.standard_normal((D, N))
    h_prev = rng.standard_normal((H, N))
    Wxh, Whh = rng.standard_normal((H, D)) * 0.5, rng.standard_normal((H, H)) * 0.5
    bh = rng.standard_normal((H, 1)) * 0.1
    return dict(zip(STEP_ARGS, (x, h_prev, Wxh, Whh, bh)))


def _step_args(case):
    return tuple(np.array(case[k]) for k in STEP_ARGS)


def _step_cases(seed, sizes=((4, 5, 3), (1, 1, 1), (7, 3, 2))):
    cases = []
    for D, H, N in sizes:
        rng = np.random.default_rng(seed)
        case = _random_step(rng, D, H, N)
        case["dh"] = rng.standard_normal((H, N))
        cases.append(case)
    return cases


STEP_FORWARD_HINT = ("h = tanh(Wxh @ x + Whh @ h_prev + bh); check the order of the matrix products and that bh "
                     "(hidden_size, 1) broadcasts over the N columns.")


def _verify_step_forward(case, got):
    x, h_prev, Wxh, Whh, bh = _step_args(case)
    expected, _ = rnn.rnn_step_forward(x, h_prev, Wxh, Whh, bh)
    if not is_close(got, expected):
        if Whh.shape[0] > 1 and is_close(got, np.tanh(Wxh @ x + Whh.T @ h_prev + bh)):
            raise Mistake("rnn_step.whh_transposed", "h uses Whh.T @ h_prev: the recurrent term is Whh @ h_prev "
                          "(row i of Whh holds the weights into unit i)")
        if is_close(got, np.tanh(Wxh @ x + Whh @ h_prev)):
            raise Mistake("rnn_step.no_bias", "h leaves out the bias: h = tanh(Wxh @ x + Whh @ h_prev + bh), bh "
                          "(hidden_size, 1) broadcast over the N columns")
    assert_close("h", got, expected, hint=STEP_FORWARD_HINT)


RNN_STEP_FORWARD = Check(
    "check_rnn_step_forward", ("rnn_step_forward",), _step_cases,
    probe=lambda fns, case: fns["rnn_step_forward"](*_step_args(case))[0],
    verify=_verify_step_forward,
    passed=f"rnn_step_forward OK (relative error < {TOL:.0e} on 3 random sizes)")


def check_rnn_step_forward(fn: Callable, seed: int = 0) -> None:
    """fn(x, h_prev, Wxh, Whh, bh) -> (h, cache)."""
    run_check(RNN_STEP_FORWARD, [fn], seed)


STEP_BACKWARD_HINTS = {
    "dx": "dx = Wxh.T @ da, where da = (1 - h**2) * dh is the gradient before tanh.",
    "dh_prev": "dh_prev = Whh.T @ da (Whh transposed: it maps the gradient back from h to h_prev).",
    "dWxh": "dWxh = da @ x.T (sum over the N examples is the matrix product).",
    "dWhh": "dWhh = da @ h_prev.T.",
    "dbh": "dbh sums da over the examples (axis=1): keepdims so it is (hidden_size, 1)."}


GRAD_NAMES = ("dx", "dh_prev", "dWxh", "dWhh", "dbh")


def _step_references():
    return {"rnn_step_forward": rnn.rnn_step_forward, "rnn_step_backward": rnn.rnn_step_backward}


def _probe_step_backward(fns, case):
    """The student's backward on their own forward's cache, and on the reference forward's cache (used
    when their forward still fails its own check, so one bug costs one check)."""
    dh = np.array(case["dh"])
    try:
        h, cache = fns["rnn_step_forward"](*_step_args(case))
    except Exception:   # noqa: BLE001 - an unfinished or crashing forward fails its own check, not this one
        h, cache = None, None
    out = {"h": h}
    if cache is not None:
        out["grads"] = fns["rnn_step_backward"](dh, cache)
    try:
        out["grads_on_reference_cache"] = fns["rnn_step_backward"](dh, case["given"]["cache"])
    except NotImplementedError:
        raise
    except Exception as err:   # noqa: BLE001 - only consulted when the student's forward is wrong
        out["grads_on_reference_cache"] = {"__error__": f"{type(err).__name__}: {err}"}
    return out


def _diagnose_step_backward(grads, expected, dh, cache):
    """Mistake if the gradients are those of a known bug (where the bug changes them: a 1 x 1 Whh is its own
    transpose)."""
    x, h_prev, Wxh, Whh, h = cache
    dx, dh_prev = grads[0], grads[1]
    if is_close(dh_prev, Whh @ ((1 - h * h) * dh)) and not is_close(dh_prev, expected[1]):
        raise Mistake("rnn_step.backward_whh_not_transposed",
                      "dh_prev uses Whh @ da: the gradient flows back through the transpose, dh_prev = Whh.T @ da "
                      "(Whh maps h_prev forward to h; Whh.T maps dL/da back to dL/dh_prev)")
    if is_close(dx, Wxh.T @ dh) and not is_close(dx, expected[0]):
        raise Mistake("rnn_step.no_tanh_derivative",
                      "the gradients skip the tanh: first da = (1 - h**2) * dh (tanh'(a) = 1 - tanh(a)**2, with "
                      "h = tanh(a) from the cache), then dx = Wxh.T @ da, dh_prev = Whh.T @ da, dWxh = da @ x.T, ...")


def _verify_step_backward(case, got):
    args, dh = _step_args(case), np.array(case["dh"])
    expected_h, ref_cache = rnn.rnn_step_forward(*args)
    grads = got.get("grads")
    try:
        assert_close("h", got["h"], expected_h)
    except AssertionError:                 # the forward is wrong: judge the backward on the reference's cache
        grads = got.get("grads_on_reference_cache")
        if isinstance(grads, dict) and "__error__" in grads:
            earlier_is_wrong("rnn_step_forward's h", got["h"], expected_h, "rnn_step_backward")
    grads = expect_tuple(grads, 5, "(dx, dh_prev, dWxh, dWhh, dbh)")
    expected = rnn.rnn_step_backward(dh, ref_cache)
    _diagnose_step_backward(grads, expected, dh, ref_cache)
    for name, g, e in zip(GRAD_NAMES, grads, expected):
        assert_close(name, g, e, hint=STEP_BACKWARD_HINTS[name])


RNN_STEP_BACKWARD = Check(
    "check_rnn_step_backward", ("rnn_step_forward", "rnn_step_backward"),
    lambda seed: _step_cases(seed, ((4, 5, 3), (1, 1, 1))),
    probe=_probe_step_backward, verify=_verify_step_backward, references=_step_references,
    reference=lambda: rnn.rnn_step_backward, given=lambda case: {"cache": rnn.rnn_step_forward(*_step_args(case))[1]},
    passed=f"rnn_step_backward OK: all five gradients match the reference (relative error < {TOL:.0e})")


def check_rnn_step_backward(forward_fn: Callable, backward_fn: Callable, seed: int = 1) -> None:
    """backward_fn(dh, cache) -> dx, dh_prev, dWxh, dWhh, dbh, with cache from forward_fn."""
    run_check(RNN_STEP_BACKWARD, [forward_fn, backward_fn], seed)


def _random_sequence(rng, T=4, D=3, H=5, V=3, N=2):
    params = rnn.RNNParams.init(D, H, V, rng, scale=0.5)
    params.bh = rng.standard_normal((H, 1)) * 0.1
    params.by = rng.standard_normal((V, 1)) * 0.1
    xs = rng.standard_normal((T, D, N))
    h0 = rng.standard_normal((H, N)) * 0.5
    targets = rng.integers(0, V, size=(T, N))
    return dict(params=dict(params.items()), xs=xs, h0=h0, targets=targets)


def _probe_forward(fns, case):
    hs, logits, _ = fns["rnn_forward"](np.array(case["xs"]), np.array(case["h0"]), params_from(case["params"]))
    return {"hs": hs, "logits": logits}


def _verify_forward(case, got):
    ref_hs, ref_logits, _ = rnn.rnn_forward(case["xs"], case["h0"], params_from(case["params"]))
    assert_close("hs", got["hs"], ref_hs, hint="hs[t] is the state after input t: feed each new h into the next step.")
    assert_close("logits", got["logits"], ref_logits, hint="logits[t] = Why @ hs[t] + by.")


RNN_FORWARD = Check(
    "check_rnn_forward", ("rnn_forward",),
    lambda seed: [_random_sequence(np.random.default_rng(seed), T=T, N=N) for T, N in [(4, 2), (1, 1)]],
    probe=_probe_forward, verify=_verify_forward, references=_step_references, reference=lambda: rnn.rnn_forward,
    passed="rnn_forward OK (T = 4 and T = 1)")


def check_rnn_forward(fn: Callable, seed: int = 2) -> None:
    """fn(xs, h0, params) -> (hs, logits, cache)."""
    run_check(RNN_FORWARD, [fn], seed)


BPTT_HINTS = {"Wxh": "dWxh accumulates da_t @ x_t.T over every time step.",
              "Whh": "dWhh accumulates da_t @ h_{t-1}.T: the state *before* step t, h0 at t = 0.",
              "Why": "dWhy accumulates dy_t @ h_t.T with dy_t = p_t - onehot(target_t).",
              "bh": "dbh accumulates da_t summed over examples.",
              "by": "dby accumulates dy_t summed over examples.",
              "h0": "dh0 is Whh.T @ da_0, what flows out of the first step."}


def _probe_bptt(fns, case):
    params = params_from(case["params"])
    try:
        hs, logits, cache = fns["rnn_forward"](np.array(case["xs"]), np.array(case["h0"]), params)
    except Exception:   # noqa: BLE001 - an unfinished or crashing forward fails its own check, not this one
        hs = logits = cache = None
    out = {"hs": hs, "logits": logits, "params_after": params}
    if cache is not None:
        loss, dlogits = rnn.softmax_cross_entropy(logits, np.array(case["targets"]))
        out["grads"], out["dh0"] = fns["rnn_backward"](dlogits, cache)
    try:                                  # on the reference forward's cache, for when the student's forward is wrong
        given = case["given"]
        ref_cache = (list(given["steps"]), np.array(given["hs"]), params_from(case["params"]))
        ref_dlogits = rnn.softmax_cross_entropy(np.array(given["logits"]), np.array(case["targets"]))[1]
        out["on_reference_cache"] = dict(zip(("grads", "dh0"), fns["rnn_backward"](ref_dlogits, ref_cache)))
    except NotImplementedError:
        raise
    except Exception as err:   # noqa: BLE001 - only consulted when the student's forward is wrong
        out["on_reference_cache"] = {"__error__": f"{type(err).__name__}: {err}"}
    return out


def _verify_bptt(case, got):
    params, xs, h0, targets = params_from(case["params"]), case["xs"], case["h0"], case["targets"]
    ref_hs, ref_logits, _ = rnn.rnn_forward(xs, h0, params)
    try:
        assert_close("hs", got["hs"], ref_hs)
        assert_close("logits", got["logits"], ref_logits)
    except AssertionError:                 # the forward is wrong: judge the backward on the reference's cache
        fallback_run = got.get("on_reference_cache") or {}
        if "__error__" in fallback_run:
            earlier_is_wrong("rnn_forward's hs", got["hs"], ref_hs, "rnn_backward")
            earlier_is_wrong("rnn_forward's logits", got["logits"], ref_logits, "rnn_backward")
        got = fallback_run
    unchanged(case["params"], got.get("params_after"), "rnn_backward")
    grads = as_params(got["grads"], "the grads that rnn_backward returns")
    no_carry(grads, rnn.rnn_loss_without_carry(params, xs, targets, h0)[1], rnn.rnn_loss(params, xs, targets, h0)[1],
              "dh_next", "rnn_backward")
    dh0 = expect_array(got["dh0"], "dh0")
    if dh0.shape != h0.shape:
        raise AssertionError(f"dh0 has shape {dh0.shape}, expected {h0.shape}. {BPTT_HINTS['h0']}")
    _, ref_grads, _, ref_dh0 = rnn.rnn_loss(params, xs, targets, h0)
    mine, expected = {**dict(grads.items()), "h0": dh0}, {**dict(ref_grads.items()), "h0": ref_dh0}
    bad = wrong_gradients(mine, expected)
    if bad:
        _diagnose_bptt(mine, expected, params, xs, targets, h0)
        worst = max(bad, key=bad.get)
        loss = (lambda v: rnn.rnn_loss(params, xs, targets, v)[0]) if worst == "h0" else \
            (lambda v: rnn.rnn_loss(params.replace(**{worst: v}), xs, targets, h0)[0])
        numeric = rel_error(mine[worst], numerical_gradient(loss, h0 if worst == "h0" else getattr(params, worst)))
        raise AssertionError(f"BPTT gradient for {worst} is wrong: relative error {numeric:.2e} vs the numerical "
                             f"gradient, {bad[worst]:.2e} vs the reference's (should be < {TOL:.0e}); also wrong: "
                             f"{sorted(set(bad) - {worst}) or 'nothing else'}. {BPTT_HINTS[worst]}")


def _diagnose_bptt(mine, expected, params, xs, targets, h0):
    """AssertionError naming a known wrong BPTT when the student's gradients are what it computes."""
    c = common_factor(mine, expected)
    if c is not None:
        T, _, N = np.shape(xs)
        raise Mistake("bptt.uniform_scale",
                      f"{factor_message(c, {'N': N, 'T': T})}. Fix the scale where dlogits or each gradient "
                      "is computed, not one formula.")
    forward_grads, forward_dh0 = bptt_in_time_order(params, xs, targets, h0)
    if len(xs) > 1 and same_gradients(mine, {**dict(forward_grads.items()), "h0": forward_dh0}):
        raise Mistake("bptt.forward_in_time",
                      "rnn_backward's loop runs forward in time (t = 0, 1, ...): BPTT must go from the last "
                      "step to the first, for t in reversed(range(T)), because dh_next at step t is what "
                      "step t+1 sends back, and step t+1 must be done first")


def _bptt_references():
    return {**_step_references(), "rnn_forward": rnn.rnn_forward}


def _bptt_given(case):
    """The reference forward's outputs and step caches: the probe runs the student's backward on them too."""
    hs, logits, (steps, _, _) = rnn.rnn_forward(case["xs"], case["h0"], params_from(case["params"]))
    return {"hs": hs, "logits": logits, "steps": steps}


BPTT = Check(
    "check_bptt", ("rnn_forward", "rnn_backward"),
    lambda seed: [_random_sequence(np.random.default_rng(seed), T=T, H=H, N=N)
                  for T, H, N in [(5, 4, 2), (1, 3, 1), (3, 1, 2)]],
    probe=_probe_bptt, verify=_verify_bptt, references=_bptt_references, reference=lambda: rnn.rnn_backward,
    given=_bptt_given,
    passed=f"BPTT OK: every gradient matches the reference's (< {TOL:.0e}) for T = 5, 1, 3 and hidden size 1")


def check_bptt(forward_fn: Callable, backward_fn: Callable, seed: int = 3) -> None:
    """forward_fn(xs, h0, params) -> hs, logits, cache; backward_fn(dlogits, cache) -> grads, dh0: the
    cross-entropy joins them, and every gradient is checked against the numerical gradient of the loss."""
    run_check(BPTT, [forward_fn, backward_fn], seed)


CHECKS = (RNN_STEP_FORWARD, RNN_STEP_BACKWARD, RNN_FORWARD, BPTT)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {"rnn_step_forward": "labutils.rnn:rnn_step_forward",
              "rnn_step_backward": "labutils.rnn:rnn_step_backward",
              "rnn_forward": "labutils.rnn:rnn_forward", "rnn_backward": "labutils.rnn:rnn_backward"}
