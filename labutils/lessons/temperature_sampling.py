"""Notebook 03's lesson: its budgets (Budget) and checks: softmax with a temperature, exact, stable for huge logits,
and refusing temperature <= 0."""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from labutils.checks.framework import Check, assert_close, expect_array, is_close, run_check
from labutils.checks.mistakes import Mistake
from labutils.config import LessonBudget, per_mode


@dataclass(frozen=True)
class Budget(LessonBudget):
    """Notebook 03's budgets: how much text is sampled, and the temperature-trained model's updates."""
    sample_chars: int = per_mode(3000, 1000)           # characters generated per temperature
    temp_train_iterations: int = per_mode(2500, 400)   # updates of the models trained at a temperature


SOFTMAX_TEMPERATURES = (1.0, 0.5, 2.0, 0.05, 1e-3, 1e3)


BAD_TEMPERATURES = (0.0, -1.0)


def _softmax_cases(seed):
    logits = np.random.default_rng(seed).standard_normal((10, 3)) * 3
    return [dict(logits=logits, temperatures=list(SOFTMAX_TEMPERATURES),
                 huge=np.array([[1e4], [1e4 - 1], [-1e4]]), bad=list(BAD_TEMPERATURES))]


def _probe_softmax(fns, case):
    fn, logits = fns["softmax_with_temperature"], np.array(case["logits"])
    out = {"p": [fn(logits, t) for t in case["temperatures"]], "huge": fn(np.array(case["huge"]), 1.0), "bad": []}
    for bad in case["bad"]:
        try:
            fn(logits, bad)
            out["bad"].append("returned")
        except Exception as err:   # noqa: BLE001 - which exception is what the check looks at
            out["bad"].append(type(err).__name__)
    return out


def _verify_softmax(case, got):
    from labutils.sampling import softmax_with_temperature as ref
    for temperature, p in zip(case["temperatures"], got["p"]):
        p = expect_array(p, f"p at temperature {temperature}")
        if p.shape == np.shape(case["logits"]) and not np.all(np.isfinite(p)):
            raise Mistake("softmax.no_max_shift",
                          f"at temperature {temperature} the probabilities contain NaN or inf: logits / "
                          "temperature overflow np.exp; subtract the maximum (along axis 0) before np.exp")
        if temperature != 1 and not is_close(p, ref(case["logits"], temperature), tol=1e-9) and \
                is_close(p, ref(np.asarray(case["logits"]) * temperature, 1.0), tol=1e-9):
            raise Mistake("softmax.multiplies_temperature",
                          f"at temperature {temperature}, p is the softmax of logits * temperature: divide the logits "
                          "by the temperature (a temperature below 1 sharpens the distribution, above 1 flattens it)")
        assert_close(f"p at temperature {temperature}", p, ref(case["logits"], temperature), tol=1e-9,
                     hint="divide the logits by the temperature, subtract the max along axis 0, then softmax.")
    if not np.all(np.isfinite(expect_array(got["huge"], "p for logits of 1e4"))):
        raise Mistake("softmax.no_max_shift",
                      "logits of 1e4 gave NaN or inf: subtract the maximum before np.exp")
    for bad, outcome in zip(case["bad"], got["bad"]):
        if outcome == "returned":
            raise Mistake("softmax.no_validation",
                          f"temperature={bad} must raise ValueError (it is not a distribution)")
        if outcome != "ValueError":
            raise Mistake("softmax.wrong_exception", f"temperature={bad} raised {outcome}; raise ValueError instead")


SOFTMAX_WITH_TEMPERATURE = Check(
    "check_softmax_with_temperature", ("softmax_with_temperature",), _softmax_cases,
    probe=_probe_softmax, verify=_verify_softmax,
    passed="softmax_with_temperature OK: matches for temperatures 1e-3 to 1e3, stable for logits of 1e4, "
           "rejects temperature <= 0")


def check_softmax_with_temperature(fn: Callable, seed: int = 7) -> None:
    """fn(logits, temperature) -> probabilities along axis 0; ValueError for temperature <= 0."""
    run_check(SOFTMAX_WITH_TEMPERATURE, [fn], seed)


CHECKS = (SOFTMAX_WITH_TEMPERATURE,)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {"softmax_with_temperature": "labutils.sampling:softmax_with_temperature"}
