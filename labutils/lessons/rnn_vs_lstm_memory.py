"""Notebook 06's lesson: its budgets (Budget) and checks: the LSTM cell against nn.LSTMCell, and its parameter count."""
from dataclasses import dataclass
from typing import Callable, Tuple

import numpy as np
import torch
from torch import nn

from labutils.checks.framework import Check, assert_close, expect_array, expect_tuple, is_close, run_check
from labutils.checks.mistakes import Mistake
from labutils.checks.tensors import load_weights, tensor, weights_of
from labutils.config import LessonBudget, per_mode


@dataclass(frozen=True)
class Budget(LessonBudget):
    """Notebook 06's budgets: the palindrome lengths and seeds, each run's cap and stopping rule."""
    lengths: Tuple[int, ...] = per_mode((10, 20, 30, 45, 60, 80, 100, 150, 200), (5, 10, 20))   # lengths T
    scratch_length: int = per_mode(60, 20)   # the length the LSTM also learns from scratch (no curriculum)
    seeds: Tuple[int, ...] = per_mode((0, 1, 2), (0,))   # one run per seed, cell and length
    max_steps: int = per_mode(2000, 400)   # the cap per run (batch 128); runs stop sooner when solved or stuck
    every: int = per_mode(100, 50)         # validate every this many steps
    patience: int = per_mode(5, 3)         # validations without progress before a run counts as stuck
    opt_steps: int = per_mode(400, 100)    # steps per optimiser in the optimiser comparison


LSTM_ARGS = ("x", "h", "c", "weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _lstm_cases(seed):
    cases = []
    for B, d, n in [(3, 4, 5), (1, 1, 1), (2, 10, 8)]:
        torch.manual_seed(seed + B + d + n)
        ref = nn.LSTMCell(d, n)
        x, h, c = torch.randn(B, d), torch.randn(B, n), torch.randn(B, n)
        cases.append(dict(x=x.numpy(), h=h.numpy(), c=c.numpy(), **weights_of(ref)))
    return cases


def _probe_lstm_cell(fns, case):
    with torch.no_grad():
        return fns["lstm_cell"](*(tensor(case[k]) for k in LSTM_ARGS))


def _verify_lstm_cell(case, got):
    got = expect_tuple(got, 2, "a tuple (h_new, c_new)")
    d, n = case["weight_ih"].shape[1], case["weight_hh"].shape[1]
    ref = load_weights(nn.LSTMCell(d, n), {k: case[k] for k in LSTM_ARGS[3:]})
    with torch.no_grad():
        h_ref, c_ref = ref(tensor(case["x"]), (tensor(case["h"]), tensor(case["c"])))
    for name, mine, expected in (("c_new", got[1], c_ref), ("h_new", got[0], h_ref)):
        mine = torch.as_tensor(expect_array(mine, name))
        if tuple(mine.shape) == tuple(expected.shape) and name == "c_new" and not is_close(mine, expected):
            _gate_order_diagnosis(case, mine)
            _forget_bias_diagnosis(case, mine)
        hint = ("c_new = f * c + i * g, with sigmoid on i and f and tanh on g; the gates come in the order "
                "i, f, g, o (chunk(4, dim=1))" if name == "c_new" else "h_new = o * tanh(c_new), sigmoid on o")
        assert_close(f"{name} (against nn.LSTMCell)", mine, expected, hint=hint)


def _gate_order_diagnosis(case, c_mine):
    """Mistake if c_new is right but for the order in which the four gates are read from the stacked weights."""
    import itertools
    x, h, c = tensor(case["x"]), tensor(case["h"]), tensor(case["c"])
    chunks = (x @ tensor(case["weight_ih"]).T + h @ tensor(case["weight_hh"]).T +
              tensor(case["bias_ih"]) + tensor(case["bias_hh"])).chunk(4, dim=1)
    for order in itertools.permutations(range(4)):
        if order == (0, 1, 2, 3):
            continue
        i, f, g, _ = (chunks[k] for k in order)
        if is_close(c_mine, torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)):
            used = [""] * 4                                   # the name the student gave each chunk
            for name, k in zip("ifgo", order):
                used[k] = name
            raise Mistake("lstm_cell.gate_order",
                          f"c_new reads the gates in the order {', '.join(used)}: PyTorch stacks them as i, f, g, o "
                          "(input, forget, cell candidate, output), so gates.chunk(4, dim=1) gives i, f, g, o")


def _forget_bias_diagnosis(case, c_mine):
    """AssertionError if c_new is right but for a forget-gate bias that ignores the given biases (a constant)."""
    x, h, c = tensor(case["x"]), tensor(case["h"]), tensor(case["c"])
    gates = x @ tensor(case["weight_ih"]).T + h @ tensor(case["weight_hh"]).T                  # without the biases
    i, f, g, _ = gates.chunk(4, dim=1)
    bias_i, bias_f, bias_g, _ = (tensor(case["bias_ih"]) + tensor(case["bias_hh"])).chunk(4)
    ig = torch.sigmoid(i + bias_i) * torch.tanh(g + bias_g)
    usable = c.abs() > 0.2
    if usable.sum() < 2:
        return
    f_mine = ((c_mine - ig) / c)[usable]
    if not bool(((f_mine > 1e-4) & (f_mine < 1 - 1e-4)).all()):
        return
    implied = torch.logit(f_mine) - f[usable]                       # the forget bias the student's c_new implies
    given = bias_f.expand_as(f)[usable]
    extra = implied - given
    if extra.std() < 1e-3 and extra.abs().mean() > 1e-3 and given.std() > 1e-3:
        raise Mistake("lstm_cell.forget_bias_added",
                      f"c_new adds {extra.mean().item():.3g} to the forget gate on top of bias_ih + bias_hh: "
                      "the biases you are given already hold any forget bias (notebook 06 sets it when it "
                      "builds the model), so use them as they are")
    if implied.std() < 1e-3 and (implied - given).abs().max() > 1e-3:
        raise Mistake("lstm_cell.forget_bias_hard_coded",
                      f"c_new uses a forget-gate bias of {implied.mean().item():.3g} for every unit instead of "
                      "bias_ih + bias_hh: take the forget gate's bias from the biases you are given (their "
                      "second quarter), don't hard-code it; notebook 06 sets the forget bias when it builds "
                      "the model, not in the cell")


LSTM_CELL = Check(
    "check_lstm_cell", ("lstm_cell",), _lstm_cases, probe=_probe_lstm_cell, verify=_verify_lstm_cell,
    passed="lstm_cell OK: matches nn.LSTMCell with copied weights (max abs difference < 1e-6) on 3 sizes")


def check_lstm_cell(fn: Callable, seed: int = 0) -> None:
    """fn(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h, c), against nn.LSTMCell with the same weights."""
    run_check(LSTM_CELL, [fn], seed)


def _param_count_cases(seed):
    sizes = [(10, 128), (1, 1), (50, 64), (3, 7)]
    rng = np.random.default_rng(seed)
    sizes += [(int(d), int(n)) for d, n in rng.integers(1, 300, (2, 2))]
    return [{"d": d, "n": n} for d, n in sizes]


def _verify_param_count(case, got):
    d, n = case["d"], case["n"]
    torch_count = sum(p.numel() for p in nn.LSTM(d, n).parameters())
    if got == 4 * (d * n + n * n + 2 * n):
        raise Mistake("lstm_count.two_biases",
                      f"lstm_param_count({d}, {n}) = {got} counts two bias vectors per gate, as PyTorch does: this "
                      "exercise counts one bias (n) per gate, 4(dn + n^2 + n)")
    if got == d * n + n * n + n:
        raise Mistake("lstm_count.one_gate",
                      f"lstm_param_count({d}, {n}) = {got} counts one gate: an LSTM has 4 (input, forget, cell, "
                      "output), each with its own input weights, recurrent weights and bias")
    if got != 4 * (d * n + n * n + n):
        raise AssertionError(f"lstm_param_count({d}, {n}) = {got}; count, for each of the 4 gates, the input "
                             f"weights (d x n), the recurrent weights (n x n) and one bias (n)")
    assert torch_count - got == 4 * n, "PyTorch keeps two bias vectors per gate (b_ih and b_hh)"


LSTM_PARAM_COUNT = Check(
    "check_lstm_param_count", ("lstm_param_count",), _param_count_cases,
    probe=lambda fns, case: fns["lstm_param_count"](case["d"], case["n"]), verify=_verify_param_count,
    passed="lstm_param_count OK: 4(dn + n^2 + n); PyTorch's count is 4n larger (two bias vectors, b_ih and b_hh)")


def check_lstm_param_count(fn: Callable, seed: int = 0) -> None:
    """fn(d, n) -> parameters of one LSTM layer with one bias vector per gate: 4(dn + n^2 + n)."""
    run_check(LSTM_PARAM_COUNT, [fn], seed)


CHECKS = (LSTM_CELL, LSTM_PARAM_COUNT)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {"lstm_cell": "labutils.nn.lstm_cell:lstm_cell_step",
              "lstm_param_count": "labutils.nn.lstm_cell:lstm_param_count"}
