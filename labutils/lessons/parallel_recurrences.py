"""Notebook 10's lesson: its budgets (Budget) and checks: the minGRU as a loop, the scan with cumulative products
and in log space, and the minGRU on the log-space scan. Outputs and, for the scans, gradients are compared with
the loop over time in float64 (relative error below 1e-10; 1e-5 for the float32 cases)."""
from dataclasses import dataclass
from typing import Callable, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from labutils.checks.framework import Check, as_array, assert_close, close_error, is_close, lazy, run_check
from labutils.checks.mistakes import Mistake
from labutils.checks.tensors import tensor
from labutils.config import LessonBudget, per_mode
from labutils.nn import minrnn

TOL = {"float64": 1e-10, "float32": 1e-5}      # tighter than the course's policy: a scan is exact algebra


@dataclass(frozen=True)
class Budget(LessonBudget):
    """Notebook 10's budgets: the speed measurement, the selective-copy runs, the language model."""
    speed_lengths: Tuple[int, ...] = per_mode((64, 128, 256, 512, 1024, 2048, 4096), (64, 512))   # T timed
    speed_repeats: int = per_mode(3, 1)    # timed training steps per model and length (the median is kept)
    speed_batch: int = per_mode(8, 4)      # sequences per timed batch
    speed_hidden: int = per_mode(128, 32)  # input and hidden width of every timed model
    copy_layers: Tuple[int, ...] = per_mode((1, 2, 3), (1, 3))   # minGRU depths trained on selective copying
    copy_max_steps: int = per_mode(3000, 300)   # step cap of each selective-copy run (batches of 64)
    copy_goal: float = per_mode(0.95, 0.75)     # the deepest minGRU's test accuracy (measured 0.999, quick 0.86)
    lm_width: int = per_mode(128, 64)           # the minGRU language model's width
    lm_layers: int = 2                          # its minGRU layers (each followed by an MLP)
    lm_max_steps: int = per_mode(4000, 100)     # its step cap (batches of 64 x 100 characters)
    lm_patience: int = 3                        # validations (every 100 steps) without a better loss: stop


# ---- shared diagnoses ---------------------------------------------------------------------------------------

def _h0_diagnosis(got, expected, h0, what):
    """Mistake if got is the right h but for where h_0 sits: prepended as a step, or every step shifted by one."""
    if got.ndim != 3 or expected.ndim != 3:
        return
    T = expected.shape[1]
    if got.shape[1] == T + 1 and is_close(got[:, 0], h0) and is_close(got[:, 1:], expected):
        raise Mistake("scan.h0_in_output",
                      f"{what} returns T + 1 = {T + 1} steps with h_0 first: return h_1 ... h_T, the state after "
                      "each input (h_0 is the state before the first)")
    shifted = np.concatenate([h0[:, None], expected[:, :-1]], axis=1)
    if got.shape == expected.shape and T > 1 and is_close(got, shifted):
        raise Mistake("scan.shifted",
                      f"{what}[:, t] holds h_(t-1), one step behind: the state after input t is "
                      "h_t = a_t * h_(t-1) + b_t, with h_0 entering at the first step (t = 0 in the arrays)")


def _tol(case):
    return TOL[str(np.asarray(case["h0"] if "h0" in case else case["log_h0"]).dtype)]


# ---- the minGRU as a loop -------------------------------------------------------------------------------------

def _mingru_cases(seed, sizes=((2, 9, 3, 4), (1, 1, 1, 1), (3, 40, 5, 6))):
    rng = np.random.default_rng(seed)
    cases = []
    for B, T, D, H in sizes:
        cases.append(dict(x=rng.standard_normal((B, T, D)), weight=rng.standard_normal((2 * H, D)) / np.sqrt(D),
                          bias=0.5 * rng.standard_normal(2 * H), h0=minrnn.g(torch.tensor(
                              rng.standard_normal((B, H)))).numpy()))
    return cases


MINGRU_ARGS = ("x", "weight", "bias", "h0")


def _probe_mingru(name):
    def probe(fns, case):
        x, weight, bias, h0 = (tensor(case[k]) for k in MINGRU_ARGS)
        with torch.no_grad():            # three starts: what h_0 does to h tells a linear recurrence from another
            return tuple(fns[name](x.clone(), weight.clone(), bias.clone(), scale * h0) for scale in (1, 2, 3))
    return probe


def _mingru_parts(case):
    x, weight, bias, h0 = (torch.tensor(case[k]) for k in MINGRU_ARGS)
    k, c = (x @ weight.T + bias).chunk(2, dim=-1)
    return torch.sigmoid(k), c, h0


def _mingru_variants(case):
    """[(what a typical wrong loop computes, the Mistake that names it)]."""
    z, c, h0 = _mingru_parts(case)
    seq = minrnn.scan_sequential
    return [(seq(torch.ones_like(z), z * minrnn.g(c), h0),
             Mistake("mingru.no_one_minus_z", "h_t adds z_t * h~_t to all of h_(t-1): the old state must be scaled "
                                              "by (1 - z_t), h_t = (1 - z_t) * h_(t-1) + z_t * h~_t, or h only grows")),
            (seq(z, (1 - z) * minrnn.g(c), h0),
             Mistake("mingru.gates_swapped", "h_t = z_t * h_(t-1) + (1 - z_t) * h~_t has the gate's roles swapped: "
                                             "z_t is the weight of the new candidate, h_t = (1 - z_t) * h_(t-1) + "
                                             "z_t * h~_t")),
            (seq(1 - z, z * c, h0),
             Mistake("mingru.no_g", "h~_t is the raw second half of x_t @ weight.T + bias: apply g "
                                    "(labutils.nn.minrnn.g), the positive activation the log-space scan will need")),
            (seq(1 - z, z * torch.tanh(c), h0),
             Mistake("mingru.tanh_candidate", "h~_t = tanh(...) is the GRU's candidate: minGRU's is g(...), positive "
                                              "and unbounded above (labutils.nn.minrnn.g)"))]


def _verify_mingru(case, got):
    h, h2, h3 = (as_array(v, "h") for v in got)
    expected = minrnn.mingru_sequential(*(torch.tensor(case[k]) for k in MINGRU_ARGS)).numpy()
    if not is_close(h, expected, _tol(case)):
        _h0_diagnosis(h, expected, case["h0"], "h")
        for variant, mistake in _mingru_variants(case):
            if is_close(h, variant.numpy(), _tol(case)):
                raise mistake
        if h.shape == h2.shape == h3.shape == expected.shape and np.isfinite(h + h2 + h3).all() \
                and not is_close(h3 - h2, h2 - h, 1e-8):
            raise Mistake("mingru.reads_h",
                          "h_t is not a linear function of h_(t-1): h(3 h_0) - h(2 h_0) differs from "
                          "h(2 h_0) - h(h_0), which a linear recurrence makes equal. In minGRU no gate and no "
                          "candidate reads h_(t-1), and no tanh wraps the update: that is what lets a scan compute it")
    assert_close("h", h, expected, _tol(case),
                 hint="k, c = (x @ weight.T + bias).chunk(2, dim=-1); z = sigmoid(k); h~ = g(c); then, for each t, "
                      "h = (1 - z[:, t]) * h + z[:, t] * h~[:, t], collected into (batch, T, hidden)")


MINGRU_SEQUENTIAL = Check(
    "check_mingru_sequential", ("mingru_sequential",), _mingru_cases, probe=_probe_mingru("mingru_sequential"),
    verify=_verify_mingru,
    passed="mingru_sequential OK: the loop matches the reference on 3 sizes (relative error < 1e-10, float64)")


def check_mingru_sequential(fn: Callable, seed: int = 0) -> None:
    """fn(x (B, T, D), weight (2H, D), bias (2H,), h0 (B, H)) -> h (B, T, H), a loop over time."""
    run_check(MINGRU_SEQUENTIAL, [fn], seed)


# ---- the scans ------------------------------------------------------------------------------------------------

def _with_gradients(fn, inputs, weights):
    """(h, gradients of sum(h * weights) with respect to each input, None where none flowed) of fn(*inputs)."""
    inputs = [t.clone().requires_grad_() for t in inputs]
    h = fn(*inputs)
    if isinstance(h, torch.Tensor) and h.shape == weights.shape and h.requires_grad:
        (h * weights).sum().backward()
    return (h.detach() if isinstance(h, torch.Tensor) else h,) + tuple(t.grad for t in inputs)


def _reference_with_gradients(case, names):
    """The loop's h and gradients, in float64, for the case's inputs given in linear (a, b, h0) form."""
    inputs = [torch.tensor(np.asarray(case[k], dtype=np.float64), requires_grad=True) for k in names]
    h = minrnn.scan_sequential(*(torch.exp(t) if names[0] == "log_a" else t for t in inputs))
    (h * torch.tensor(np.asarray(case["w"], dtype=np.float64))).sum().backward()
    return h.detach().numpy(), [t.grad.numpy() for t in inputs]


def _verify_grads(case, got, names, expected_grads, tol):
    for name, grad, expected in zip(names, got[1:], expected_grads):
        if grad is None:
            raise Mistake("scan.no_gradient",
                          f"no gradient reached {name}: keep the whole computation in torch operations on the "
                          "inputs (no .numpy(), .item(), .detach() or torch.tensor(...) of them)")
        assert_close(f"the gradient with respect to {name}", as_array(grad), expected, tol,
                     hint="the outputs are right, so an operation between them and this input breaks autograd "
                          "(an in-place write into a tensor it still needs?)")


def _scan_cases(seed):
    rng = np.random.default_rng(seed)
    cases = []
    for B, T, H in ((2, 16, 3), (1, 1, 1), (3, 30, 4)):
        cases.append(dict(a=rng.uniform(0.5, 1.0, (B, T, H)), b=rng.standard_normal((B, T, H)),
                          h0=rng.standard_normal((B, H)), w=rng.standard_normal((B, T, H))))
    return cases


SCAN_ARGS = ("a", "b", "h0")


def _verify_cumprod(case, got):
    h = as_array(got[0], "h")
    expected, grads = _reference_with_gradients(case, SCAN_ARGS)
    if not is_close(h, expected, _tol(case)):
        _h0_diagnosis(h, expected, case["h0"], "h")
        a, b, h0 = (torch.tensor(case[k]) for k in SCAN_ARGS)
        if is_close(h, minrnn.scan_sequential(a, b, 0 * h0).numpy(), _tol(case)):
            raise Mistake("scan.h0_dropped", "h is right only if h_0 were 0: h_t = A_t * (h_0 + sum_(s<=t) b_s / A_s) "
                                             "keeps h_0 inside the bracket, scaled by the whole product A_t")
        if is_close(h, minrnn.scan_sequential(a, b, 2 * h0).numpy(), _tol(case)):
            raise Mistake("scan.h0_doubled", "h counts h_0 twice (as if the start were 2 h_0): it enters once, as "
                                             "A_t * h_0")
    assert_close("h", h, expected, _tol(case),
                 hint="A = cumprod(a, dim=1) (A_t = a_1 ... a_t); h = A * (h0[:, None] + cumsum(b / A, dim=1)), "
                      "no loop over time")
    _verify_grads(case, got, SCAN_ARGS, grads, _tol(case))


def _probe_scan(name, args):
    def probe(fns, case):
        return _with_gradients(fns[name], [tensor(case[k]) for k in args], tensor(case["w"]))
    return probe


SCAN_CUMPROD = Check(
    "check_scan_cumprod", ("scan_cumprod",), _scan_cases, probe=_probe_scan("scan_cumprod", SCAN_ARGS),
    verify=_verify_cumprod,
    passed="scan_cumprod OK: outputs and gradients match the loop on 3 sizes up to T = 30 (relative error < 1e-10)")


def check_scan_cumprod(fn: Callable, seed: int = 0) -> None:
    """fn(a (B, T, H), b (B, T, H), h0 (B, H)) -> h (B, T, H) with cumulative products, no loop over time."""
    run_check(SCAN_CUMPROD, [fn], seed)


LOG_ARGS = ("log_a", "log_b", "log_h0")


def _log_cases(seed):
    rng = np.random.default_rng(seed)
    cases = []
    for dtype, B, T, H in ((np.float64, 2, 1, 3), (np.float64, 2, 64, 3), (np.float64, 2, 4096, 2),
                           (np.float32, 2, 64, 3), (np.float32, 2, 4096, 2)):
        log_a = -F.softplus(torch.tensor(2 * rng.standard_normal((B, T, H)))).numpy()   # gates from 0.01 to 1
        cases.append(dict(log_a=log_a.astype(dtype), log_b=rng.standard_normal((B, T, H)).astype(dtype),
                          log_h0=rng.standard_normal((B, H)).astype(dtype),
                          w=rng.standard_normal((B, T, H)).astype(dtype)))
    return cases


def _verify_log(case, got):
    h = as_array(got[0], "h")
    tol, T = _tol(case), np.shape(case["log_a"])[1]
    expected, grads = _reference_with_gradients(case, LOG_ARGS)
    if not is_close(h, expected, tol):
        _h0_diagnosis(h, expected, np.exp(np.asarray(case["log_h0"], dtype=np.float64)), "h")
        if h.shape == expected.shape and (not np.isfinite(h).all() or (h == 0).any()):
            raise Mistake("scan.underflow",
                          f"h has NaN, inf or zeros at T = {T} where the loop's h is finite and positive: "
                          "exponentiating a cumulative sum (or product) of T gates leaves the range of floats "
                          "(e^-746 is 0 in float64, e^-104 in float32); stay in log space to the end: "
                          "log h = a* + logcumsumexp(values - a*), then exp once")
        short = min(T, 64)
        if h.shape == expected.shape and T > 64 and is_close(h[:, :short], expected[:, :short], tol):
            early = close_error(h[:, :short], expected[:, :short])
            raise Mistake("scan.float32_sums",
                          f"h is right over the first {short} steps (error {early:.1e}) "
                          f"but not over all {T} ({close_error(h, expected):.1e}): the error grows with t. In "
                          f"{np.asarray(case['log_a']).dtype} a running sum of t log-gates carries |a*_t| x "
                          f"{np.finfo(np.asarray(case['log_a']).dtype).eps / 2:.0e} of rounding, and log h_t is a "
                          "difference of two such sums: keep cumsum and logcumsumexp in float64 (.double()) and "
                          "cast h back to the inputs' dtype")
    assert_close("h", h, expected, tol,
                 hint="a* = cumsum(log_a, dim=1) with a 0 in front; values = log_h0 then log_b along time; "
                      "log h = a* + logcumsumexp(values - a*, dim=1); return exp(log h) without its first step")
    _verify_grads(case, got, LOG_ARGS, grads, tol)


SCAN_LOG = Check(
    "check_scan_log", ("scan_log",), _log_cases, probe=_probe_scan("scan_log", LOG_ARGS), verify=_verify_log,
    passed="scan_log OK: outputs and gradients match the loop up to T = 4096 (relative error < 1e-10 in float64, "
           "< 1e-5 in float32)")


def check_scan_log(fn: Callable, seed: int = 0) -> None:
    """fn(log_a (B, T, H), log_b (B, T, H), log_h0 (B, H)) -> h (B, T, H), in log space, no loop over time."""
    run_check(SCAN_LOG, [fn], seed)


# ---- the minGRU on the scan -----------------------------------------------------------------------------------

def _parallel_cases(seed):
    return _mingru_cases(seed, ((2, 9, 3, 4), (1, 1, 1, 1), (3, 40, 5, 6), (2, 300, 4, 5)))


def _verify_parallel(case, got):
    h = as_array(got[0], "h")
    expected = minrnn.mingru_sequential(*(torch.tensor(case[k]) for k in MINGRU_ARGS)).numpy()
    if not is_close(h, expected, _tol(case)):
        _h0_diagnosis(h, expected, case["h0"], "h")
        z, c, h0 = _mingru_parts(case)
        if h.shape == expected.shape and np.isnan(h).any() and bool((c < 0).any()):
            raise Mistake("mingru.log_of_negative",
                          "h is NaN: the log of a negative candidate. h~ = c is negative for some inputs and log(c) "
                          "is NaN there; the log-space minGRU's candidate is g(c) > 0, whose log is log_g(c) "
                          "(labutils.nn.minrnn.log_g)")
        seq = minrnn.scan_sequential
        if is_close(h, seq(z, (1 - z) * minrnn.g(c), h0).numpy(), _tol(case)):
            raise Mistake("mingru.log_gates_swapped",
                          "the log gates are swapped: log a_t is log(1 - z_t) = -softplus(k) (what h_(t-1) keeps) and "
                          "log b_t is log z_t + log h~_t = -softplus(-k) + log_g(c)")
        if is_close(h, seq(1 - z, z * minrnn.g(c), torch.exp(h0)).numpy(), _tol(case)):
            raise Mistake("mingru.h0_not_logged", "scan_log takes log h_0: pass torch.log(h0), not h0")
    assert_close("h", h, expected, _tol(case),
                 hint="k, c = (x @ weight.T + bias).chunk(2, dim=-1); scan_log(-softplus(k), -softplus(-k) + "
                      "log_g(c), log(h0)): log(1 - sigmoid(k)) = -softplus(k), log sigmoid(k) = -softplus(-k)")


MINGRU_PARALLEL = Check(
    "check_mingru_parallel", ("mingru_parallel",), _parallel_cases, probe=_probe_mingru("mingru_parallel"),
    verify=_verify_parallel, references=lambda: {"scan_log": minrnn.scan_log},
    reference=lazy("labutils.nn.minrnn:mingru_parallel"),
    passed="mingru_parallel OK: the log-space minGRU matches the loop on 4 sizes up to T = 300 (relative error "
           "< 1e-10, float64)")


def check_mingru_parallel(fn: Callable, seed: int = 0) -> None:
    """fn(x (B, T, D), weight (2H, D), bias (2H,), h0 (B, H), h0 > 0) -> h (B, T, H) by scan_log."""
    run_check(MINGRU_PARALLEL, [fn], seed)


CHECKS = (MINGRU_SEQUENTIAL, SCAN_CUMPROD, SCAN_LOG, MINGRU_PARALLEL)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {"mingru_sequential": "labutils.nn.minrnn:mingru_sequential",
              "scan_cumprod": "labutils.nn.minrnn:scan_cumprod", "scan_log": "labutils.nn.minrnn:scan_log",
              "mingru_parallel": "labutils.nn.minrnn:mingru_parallel"}
