"""Notebook 08's lesson: its budgets (Budget) and checks: the time gate (NumPy, worked cases and broadcasting) and one
Phased LSTM step."""
from dataclasses import dataclass
from typing import Callable, Tuple

import numpy as np
import torch

from labutils.checks.framework import Check, assert_close, expect_array, expect_tuple, is_close, lazy, run_check
from labutils.checks.mistakes import Mistake
from labutils.checks.tensors import load_weights, tensor, weights_of
from labutils.config import LessonBudget, per_mode


@dataclass(frozen=True)
class Budget(LessonBudget):
    """Notebook 08's budgets: training batches and seeds of the frequency task."""
    iters: int = per_mode(600, 150)            # training batches of 64 sequences, the same for both models
    seeds: Tuple[int, ...] = per_mode((0, 1), (0,))   # one run per seed, model and sampling


# (t, tau, shift, r_on, alpha) -> k, worked by hand; notebook 08 prints this table
TIME_GATE_CASES = [
    ((0.0, 10.0, 0.0, 0.2, 0.01), 0.0, "phase 0: the gate starts to open"),
    ((0.5, 10.0, 0.0, 0.2, 0.01), 0.5, "phase 0.05, halfway up the rising half (r_on/2 = 0.1): 2 * 0.05 / 0.2"),
    ((1.0, 10.0, 0.0, 0.2, 0.01), 1.0, "phase 0.1 = r_on/2: fully open"),
    ((1.5, 10.0, 0.0, 0.2, 0.01), 0.5, "phase 0.15, falling half: 2 - 2 * 0.15 / 0.2"),
    ((5.0, 10.0, 0.0, 0.2, 0.01), 0.005, "phase 0.5, closed: leak alpha * phase = 0.01 * 0.5"),
    ((10.5, 10.0, 0.0, 0.2, 0.01), 0.5, "t = 10.5 is phase 0.05 of the second period"),
    ((3.0, 10.0, 2.0, 0.2, 0.01), 1.0, "shift 2 moves the cycle: phase (3 - 2) / 10 = 0.1, fully open"),
    ((1.0, 10.0, 2.0, 0.2, 0.01), 0.009, "t < shift: phase ((1 - 2) mod 10) / 10 = 0.9, closed"),
]


def _time_gate_cases(seed):
    cases = [dict(t=np.array([a[0]]), tau=a[1], shift=a[2], r_on=a[3], alpha=a[4], expected=k, why=why)
             for a, k, why in TIME_GATE_CASES]
    rng = np.random.default_rng(seed)
    cases.append(dict(t=rng.uniform(-50, 200, (6, 1)), tau=np.exp(rng.uniform(0, 4, 5)), shift=rng.uniform(0, 20, 5),
                      r_on=0.1, alpha=1e-3))
    return cases


def _probe_time_gate(fns, case):
    return fns["time_gate"](*(np.array(case[k]) if isinstance(case[k], np.ndarray) else case[k]
                              for k in ("t", "tau", "shift", "r_on", "alpha")))


def _verify_time_gate(case, got):
    from labutils.nn.phased import time_gate
    got = expect_array(got, "k")
    if "expected" in case:
        t, tau, shift, r_on, alpha = float(case["t"][0]), case["tau"], case["shift"], case["r_on"], case["alpha"]
        value = float(got.reshape(-1)[0]) if got.size else float("nan")
        if not abs(value - case["expected"]) < 1e-9:
            hint = ("the phase must lie in [0, 1): np.mod of a negative number by a positive period is positive"
                    if t < shift else "")
            raise AssertionError(f"time_gate(t={t}, tau={tau}, s={shift}, r_on={r_on}, alpha={alpha}) = "
                                 f"{value:.6g}, expected {case['expected']:g} ({case['why']}). {hint}".strip())
        return
    expected = time_gate(case["t"], case["tau"], case["shift"], case["r_on"], case["alpha"])
    if got.shape != expected.shape:
        raise Mistake("time_gate.python_branching",
                      f"t (6, 1) with tau and shift (5,) must broadcast to (6, 5), got {got.shape}: "
                      "use element-wise NumPy operations (np.mod, np.where), not Python if/else")
    assert_close("k on random inputs", got, expected, tol=1e-9,       # exact arithmetic: only rounding differs
                 hint="the gate must match the reference element by element")


TIME_GATE = Check(
    "check_time_gate", ("time_gate",), _time_gate_cases, probe=_probe_time_gate, verify=_verify_time_gate,
    passed=f"time_gate OK: {len(TIME_GATE_CASES)} hand-worked cases and 30 random (t, tau, s) broadcast cases")


def check_time_gate(fn: Callable, seed: int = 0) -> None:
    """fn(t, tau, shift, r_on, alpha) -> k, NumPy, element-wise with broadcasting."""
    run_check(TIME_GATE, [fn], seed)


PHASED_CELL = dict(input_size=3, hidden_size=6, tau_range=(2.0, 20.0), r_on=0.3)


def _phased_cases(seed):
    from labutils.nn.phased import PhasedLSTMCell
    torch.manual_seed(seed)
    cell = PhasedLSTMCell(**PHASED_CELL)
    x, h, c = torch.randn(4, 3), torch.randn(4, 6), torch.randn(4, 6)
    return [dict(cell=weights_of(cell), x=x.numpy(), t=np.array([0.5, 3.0, 7.5, 12.0], dtype=np.float32),
                 h=h.numpy(), c=c.numpy())]


def _phased_cell(case):
    from labutils.nn.phased import PhasedLSTMCell
    return load_weights(PhasedLSTMCell(**PHASED_CELL), case["cell"])


def _probe_phased(fns, case):
    with torch.no_grad():
        x, t, h, c = (tensor(case[k]) for k in ("x", "t", "h", "c"))
        return fns["phased_lstm_step"](x, t, h, c, _phased_cell(case))


def _verify_phased(case, got):
    from labutils.nn.phased import phased_lstm_step
    got = expect_tuple(got, 3, "a tuple (h_new, c_new, k)")
    h, c = tensor(case["h"]), tensor(case["c"])
    with torch.no_grad():
        expected = phased_lstm_step(tensor(case["x"]), tensor(case["t"]), h, c, _phased_cell(case))
    got = [torch.as_tensor(expect_array(g, name)) for g, name in zip(got, ("h_new", "c_new", "k"))]
    for name, mine, ref in zip(("h_new", "c_new", "k"), got, expected):
        if tuple(mine.shape) != tuple(ref.shape):
            raise AssertionError(f"{name} has shape {tuple(mine.shape)}, expected {tuple(ref.shape)} (B, n): "
                                 "the gate of unit j at time t[b] is k[b, j]; t[:, None] broadcasts against tau")
    k = expected[2]
    assert_close("k", got[2], k, hint="k = time_gate(t[:, None], cell.tau, cell.shift, cell.r_on, cell.alpha)")
    for name, mine, ref, old in (("c_new", got[1], expected[1], c), ("h_new", got[0], expected[0], h)):
        if is_close(mine, (1 - k) * (ref - (1 - k) * old) / k.clamp_min(1e-12) + k * old):
            raise Mistake("phased_lstm.gate_swapped",
                          f"{name}: k and 1 - k are swapped: the *new* value passes where the gate is open")
        assert_close(name, mine, ref, hint=f"{name} = k * proposal + (1 - k) * old value, the proposal from "
                                           "lstm_cell_step with cell.cell's weights")


def _phased_references():
    from labutils.nn.phased import time_gate
    return {"time_gate": time_gate}


PHASED_LSTM_STEP = Check(
    "check_phased_lstm_step", ("phased_lstm_step",), _phased_cases, probe=_probe_phased, verify=_verify_phased,
    references=_phased_references, reference=lazy("labutils.nn.phased:phased_lstm_step"),
    passed="phased_lstm_step OK: h, c and k match the reference (4 sequences, 6 units)")


def check_phased_lstm_step(fn: Callable, seed: int = 0) -> None:
    """fn(x, t, h, c, cell) -> (h_new, c_new, k), against the reference on a PhasedLSTMCell."""
    run_check(PHASED_LSTM_STEP, [fn], seed)


CHECKS = (TIME_GATE, PHASED_LSTM_STEP)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {"time_gate": "labutils.nn.phased:time_gate", "phased_lstm_step": "labutils.nn.phased:phased_lstm_step"}
