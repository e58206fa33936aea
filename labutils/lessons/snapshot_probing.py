"""Notebook 04's lesson: its budgets (Budget) and checks: the snapshot as an encoder (the state after reading a text)
and a decoder (a sampled continuation).
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from labutils.checks.framework import Check, assert_close, run_check
from labutils.checks.numpy_rnn import compare_indices, params_from, sampling_args, sampling_cases, small_charlm
from labutils.config import LessonBudget, per_mode


@dataclass(frozen=True)
class Budget(LessonBudget):
    """Notebook 04's budgets: the contexts that choose the units, and the random baseline's draws."""
    selection_contexts: int = per_mode(1000, 300)   # ':' contexts from the training plays used to pick units
    random_draws: int = per_mode(200, 40)           # random unit sets per k in the ablation baseline



def _encode_cases(seed):
    params = small_charlm(np.random.default_rng(seed), V=6, H=5, scale=1.0)
    h0 = np.random.default_rng(seed + 1).standard_normal((5, 1)) * 0.5
    return [dict(params=dict(params.items()), h0=h0, ixs=ixs) for ixs in ([3, 1, 4, 1, 5, 0, 2], [2], [])]


def _verify_encode(case, got):
    from labutils.probing import encode
    assert_close(f"h after encoding {len(case['ixs'])} characters", got,
                 encode(params_from(case["params"]), case["h0"], case["ixs"]),
                 hint="h = tanh(Wxh[:, [ix]] + Whh @ h + bh) for each index in turn; an empty text returns h0.")


ENCODE = Check(
    "check_encode", ("encode",), _encode_cases,
    probe=lambda fns, case: fns["encode"](params_from(case["params"]), np.array(case["h0"]), list(case["ixs"])),
    verify=_verify_encode, passed="encode OK: matches the reference for 7, 1 and 0 priming characters")


def check_encode(fn: Callable, seed: int = 8) -> None:
    """fn(params, h0, ixs) -> h (hidden_size, 1): the state after reading ixs, without sampling."""
    run_check(ENCODE, [fn], seed)


def _verify_decode(case, got):
    from labutils.probing import decode
    compare_indices(got, decode(*sampling_args(case)), case,
                     "Feed seed_ix first, then each sampled index; draw with rng.choice(vocab_size, p=p).")


DECODE = Check(
    "check_decode", ("decode",), lambda seed: sampling_cases(seed, 30, 1, (1.0, 0.7)),
    probe=lambda fns, case: list(fns["decode"](*sampling_args(case))), verify=_verify_decode,
    passed="decode OK: the same continuation as the reference with the same generator")


def check_decode(fn: Callable, seed: int = 9) -> None:
    """fn(params, h, seed_ix, n, temperature, rng) -> list of n indices."""
    run_check(DECODE, [fn], seed)


CHECKS = (ENCODE, DECODE)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {"encode": "labutils.probing:encode", "decode": "labutils.probing:decode"}
