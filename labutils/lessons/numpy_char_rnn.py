"""Notebook 02's lesson: its budgets (Budget) and checks: one_hot, the chunk loss and its gradients (loss_fun), the
Adagrad update, and sampling."""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from labutils import rnn
from labutils.checks.framework import Check, assert_close, lazy, run_check
from labutils.checks.mistakes import Mistake
from labutils.checks.numpy_rnn import (
    TOL,
    as_params,
    common_factor,
    compare_indices,
    factor_message,
    no_carry,
    params_from,
    sampling_args,
    sampling_cases,
    small_charlm,
    unchanged,
    wrong_gradients,
)
from labutils.config import LessonBudget, per_mode
from labutils.gradcheck import grad_check


@dataclass(frozen=True)
class Budget(LessonBudget):
    """Notebook 02's budgets: the training run's cap, section 10's equal-characters runs, and the loss goal."""
    iterations: int = per_mode(30000, 2000)          # the cap on updates (early stopping usually ends sooner)
    equal_chars: int = per_mode(3_200_000, 400_000)  # characters each run of section 10 reads
    loss_target: float = per_mode(45.0, 70.0)        # the smoothed loss each budget was measured to reach



def _one_hot_cases(seed):
    cases = [(0, 1), (2, 5), (64, 65), (7, 65)]
    rng = np.random.default_rng(seed)
    cases += [(int(rng.integers(0, V)), int(V)) for V in rng.integers(1, 100, 5)]
    return [{"ix": ix, "vocab_size": V} for ix, V in cases]


def _verify_one_hot(case, got):
    ix, V = case["ix"], case["vocab_size"]
    expected = np.zeros((V, 1))
    expected[ix] = 1
    assert_close(f"one_hot({ix}, {V})", got, expected, hint="a column vector (vocab_size, 1), zeros but a 1 at ix.")


ONE_HOT = Check(
    "check_one_hot", ("one_hot",), _one_hot_cases,
    probe=lambda fns, case: fns["one_hot"](case["ix"], case["vocab_size"]), verify=_verify_one_hot,
    passed="one_hot OK, and so Wxh @ one_hot(ix) == Wxh[:, [ix]]: the product only picks a column")


def check_one_hot(fn: Callable, seed: int = 0) -> None:
    """fn(ix, vocab_size) -> (vocab_size, 1) column with a 1 at ix."""
    run_check(ONE_HOT, [fn], seed)


def _charlm_references():
    from labutils.charlm import one_hot
    return {"one_hot": one_hot}


def _loss_fun_cases(seed):
    cases = []
    for T in (6, 1):
        rng = np.random.default_rng(seed)
        params = small_charlm(rng)
        cases.append(dict(params=dict(params.items()), inputs=rng.integers(0, 5, T).tolist(),
                          targets=rng.integers(0, 5, T).tolist(), hprev=rng.standard_normal((4, 1)) * 0.5))
    return cases


def _probe_loss_fun(fns, case):
    params = params_from(case["params"])
    loss, grads, h_last = fns["loss_fun"](list(case["inputs"]), list(case["targets"]), np.array(case["hprev"]), params)
    return {"loss": loss, "grads": grads, "h_last": h_last, "params_after": params}


LOSS_FUN_HINTS = {"Wxh": "dWxh += dhraw @ x_t.T, with x_t the one-hot input.",
                  "Whh": "dWhh += dhraw @ h_{t-1}.T (hprev at t = 0).",
                  "Why": "dWhy += dy @ h_t.T with dy = p_t - onehot(target).",
                  "bh": "dbh += dhraw.", "by": "dby += dy."}


def _verify_loss_fun(case, got):
    from labutils.charlm import loss_fun
    params, inputs, targets, hprev = params_from(case["params"]), case["inputs"], case["targets"], case["hprev"]
    ref_loss, ref_grads, ref_h = loss_fun(inputs, targets, hprev, params)
    unchanged(case["params"], got.get("params_after"), "loss_fun")
    assert_close("loss", got["loss"], ref_loss, hint="sum -log p_t[target_t] over the chunk (not the mean).")
    assert_close("h_last", got["h_last"], ref_h, hint="return the hidden state after the last input of the chunk.")
    grads = as_params(got["grads"], "the grads that loss_fun returns")
    if len(inputs) > 1:
        xs = np.stack([np.eye(params.input_size)[:, [i]] for i in inputs])
        without = rnn.rnn_loss_without_carry(params, xs, np.array(targets)[:, None], hprev)[1]
        no_carry(grads, without, ref_grads, "dhnext", "loss_fun")
    bad = wrong_gradients(dict(grads.items()), dict(ref_grads.items()))
    if bad:
        c = common_factor(dict(grads.items()), dict(ref_grads.items()))
        if c is not None:
            raise Mistake("loss_fun.uniform_scale",
                          f"{factor_message(c, {'T': len(inputs)})}. Fix the scale of dy (or of the loss), "
                          "not one formula.")
        worst = max(bad, key=bad.get)
        numeric = grad_check(params, lambda p: loss_fun(inputs, targets, hprev, p)[0], grads)[worst]
        raise AssertionError(f"d{worst} is wrong: relative error {numeric:.2e} vs the numerical gradient, "
                             f"{bad[worst]:.2e} vs the reference's (should be < {TOL:.0e}). {LOSS_FUN_HINTS[worst]}")


LOSS_FUN = Check(
    "check_loss_fun", ("loss_fun",), _loss_fun_cases, probe=_probe_loss_fun, verify=_verify_loss_fun,
    references=_charlm_references, reference=lazy("labutils.charlm:loss_fun"),
    passed=f"loss_fun OK: loss, last state and all five gradients match (< {TOL:.0e}) for T = 6 and T = 1")


def check_loss_fun(fn: Callable, seed: int = 4) -> None:
    """fn(inputs, targets, hprev, params) -> (loss, grads, h_last): one chunk, summed loss, min-char-rnn style."""
    run_check(LOSS_FUN, [fn], seed)


def _adagrad_cases(seed):
    rng = np.random.default_rng(seed)
    params = small_charlm(rng)
    grads = params.map(lambda a: rng.standard_normal(a.shape) * 4)     # some entries beyond +-5
    memory = params.map(lambda a: rng.random(a.shape))
    return [dict(params=dict(params.items()), grads=dict(grads.items()), memory=dict(memory.items()),
                 learning_rate=0.1, clip=5.0)]


def _probe_adagrad(fns, case):
    params, grads, memory = params_from(case["params"]), params_from(case["grads"]), params_from(case["memory"])
    fns["adagrad_update"](params, grads, memory, case["learning_rate"], case["clip"])
    return {"params": params, "memory": memory}


def _verify_adagrad(case, got):
    from labutils.charlm import adagrad_update
    before = params_from(case["params"])
    mine_params, mine_memory = as_params(got["params"], "params"), as_params(got["memory"], "memory")
    params, grads, memory = params_from(case["params"]), params_from(case["grads"]), params_from(case["memory"])
    adagrad_update(params, grads, memory, case["learning_rate"], case["clip"])
    if all(np.array_equal(a, b) for (_, a), (_, b) in zip(mine_params.items(), before.items())):
        raise Mistake("adagrad.params_rebound",
                      "params did not change: update the arrays in place (param -= ...), don't rebind names")
    if all(np.array_equal(a, b) for (_, a), (_, b) in zip(mine_memory.items(), params_from(case["memory"]).items())):
        raise Mistake("adagrad.memory_rebound",
                      "memory did not change: Adagrad's memory must persist between steps, so update it in "
                      "place (mem += g * g); mem = mem + g * g makes a new array and the caller never sees it")
    for name, _ in params.items():
        assert_close(f"memory.{name}", getattr(mine_memory, name), getattr(memory, name),
                     hint="clip the gradient to [-clip, clip] first, then memory += grad * grad.")
        assert_close(f"params.{name}", getattr(mine_params, name), getattr(params, name),
                     hint="param -= learning_rate * grad / np.sqrt(memory + 1e-8), with the clipped grad.")


ADAGRAD_UPDATE = Check(
    "check_adagrad_update", ("adagrad_update",), _adagrad_cases, probe=_probe_adagrad, verify=_verify_adagrad,
    passed="adagrad_update OK: clipping at +-5, memory and parameters match the reference")


def check_adagrad_update(fn: Callable, seed: int = 5) -> None:
    """fn(params, grads, memory, learning_rate, clip) updates params and memory in place."""
    run_check(ADAGRAD_UPDATE, [fn], seed)


SAMPLE_HINT = ("Feed each sampled index back in as the next input, divide the logits by the temperature before the "
               "softmax, and draw with rng.choice(vocab_size, p=p).")


EXTREME_TEMPERATURE = 0.01     # with logits of ~10, logits / 0.01 overflow np.exp unless the max is subtracted


def _sample_cases(seed):
    return (sampling_cases(seed, 40, 2, (1.0, 0.5)) +
            [{**case, "extreme": True} for case in sampling_cases(seed, 40, 2, (EXTREME_TEMPERATURE,), logit_scale=8)])


def _probe_sample(fns, case):
    try:
        ixs, h = fns["sample"](*sampling_args(case))
    except Exception as err:   # noqa: BLE001 - at an extreme temperature an error is the diagnosis
        if not case.get("extreme"):
            raise
        return {"raised": f"{type(err).__name__}: {err}"}
    return {"ixs": list(ixs), "h": h}


def _verify_sample(case, got):
    from labutils.sampling import sample
    if "raised" in got:
        raise Mistake("sample.softmax_overflow",
                      f"at temperature {case['temperature']}, with logits in the tens, sample raised "
                      f"{str(got['raised'])[:200]}: logits / temperature overflow np.exp; subtract the maximum "
                      "logit before np.exp (a stable softmax gives the same probabilities)")
    ref_ixs, ref_h = sample(*sampling_args(case))
    compare_indices(got["ixs"], ref_ixs, case, SAMPLE_HINT)
    assert_close("final h", got["h"], ref_h, hint="return the state after the last step.")


SAMPLE = Check(
    "check_sample", ("sample",), _sample_cases,
    probe=_probe_sample, verify=_verify_sample, references=_charlm_references,
    reference=lazy("labutils.sampling:sample"),
    passed=f"sample OK: the same indices as the reference at temperatures 1, 0.5 and {EXTREME_TEMPERATURE} (logits "
           "large enough to overflow an unstable softmax) with the same generator")


def check_sample(fn: Callable, seed: int = 6) -> None:
    """fn(params, h, seed_ix, n, temperature, rng) -> (ixs, h); draws with rng.choice(vocab_size, p=p)."""
    run_check(SAMPLE, [fn], seed)


CHECKS = (ONE_HOT, LOSS_FUN, ADAGRAD_UPDATE, SAMPLE)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {"one_hot": "labutils.charlm:one_hot", "loss_fun": "labutils.charlm:loss_fun",
              "adagrad_update": "labutils.charlm:adagrad_update", "sample": "labutils.sampling:sample"}
