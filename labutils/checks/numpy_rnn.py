"""What the NumPy lessons' checks share (notebooks 01-04): RNNParams from a case, the gradient comparisons and
their diagnoses, small models, and sampled indices compared step by step.
"""
import numpy as np

from labutils import rnn
from labutils.checks.framework import TOLERANCES, assert_close, kind
from labutils.checks.mistakes import Mistake
from labutils.gradcheck import rel_error

TOL = TOLERANCES["float64"]
# Gradients are judged against the analytic reference, to TOL. The numerical gradient (central differences,
# h = 1e-5) only explains a failure: its own error on these float64 cases reaches ~2e-7 (the reference missed
# 1e-7 on 1 seed in 270), so a tolerance on it would fail correct code at random.

def params_from(d):
    """An RNNParams from a case's dict of arrays (copies, so a student's in-place edits stay local)."""
    return rnn.RNNParams(**{k: np.array(v, dtype=np.float64) for k, v in d.items()})


def as_params(got, what):
    """The student's gradients (a dict after the round trip) as RNNParams, or an AssertionError saying why not."""
    if not isinstance(got, dict) or set(got) != set(rnn.PARAM_NAMES):
        raise AssertionError(f"{what} should be an RNNParams with {', '.join(rnn.PARAM_NAMES)}, not {kind(got)}")
    try:
        return rnn.RNNParams(**{k: np.asarray(v, dtype=np.float64) for k, v in got.items()})
    except (ValueError, TypeError) as err:
        raise AssertionError(f"{what}: {err}") from None


def earlier_is_wrong(name, got, expected, fixes):
    """AssertionError saying that an earlier exercise, not this one, is what fails."""
    try:
        assert_close(name, got, expected)
    except AssertionError as err:
        raise Mistake("prerequisite.fails", f"{fixes} cannot be checked yet: it works on what your {name.split()[0]} "
                             f"returns, and that still fails its own check ({err}). Fix that exercise first.") from None


def unchanged(before, after, fn_name):
    """AssertionError if the student's function changed the parameters it was given."""
    if isinstance(after, dict) and set(after) == set(before):
        changed = [k for k in rnn.PARAM_NAMES if not np.array_equal(np.asarray(after[k]), before[k])]
        if changed:
            raise Mistake("bptt.grads_alias_params",
                          f"{fn_name} changed the parameters it was given ({', '.join(changed)}): the "
                          "gradients must be new arrays (params.zeros_like()), not params itself or a view "
                          "of it; grads = params makes every += below change the model")


def no_carry(grads, without, correct, name, fn_name):
    """AssertionError naming the missing carry when grads equal BPTT without the gradient from later steps."""
    def same(a, b):
        return all(rel_error(getattr(a, k), getattr(b, k)) < TOL for k in ("Wxh", "Whh", "bh"))
    if same(grads, without) and not same(without, correct):
        raise Mistake("bptt.no_dh_next",
                      f"{fn_name} drops the gradient that flows back from later time steps: dWxh, dWhh and "
                      f"dbh only see each step's own output. Add {name} (what step t+1 sends back to h_t) "
                      "to dh at every step, and update it from the step's backward.")


def bptt_in_time_order(params, xs, targets, h0):
    """(grads, dh0) of a BPTT whose loop runs forward in time (t = 0, 1, ...), carrying dh_next as usual: each
    step then receives the gradient of the step *before* it, not after it."""
    hs, logits, (steps, _, _) = rnn.rnn_forward(xs, h0, params)
    _, dlogits = rnn.softmax_cross_entropy(logits, targets)
    grads = params.zeros_like()
    grads.Why = np.einsum("tvn,thn->vh", dlogits, hs)
    grads.by = dlogits.sum(axis=(0, 2))[:, None]
    dh_next = np.zeros_like(h0)
    for t in range(len(steps)):
        _, dh_next, dWxh, dWhh, dbh = rnn.rnn_step_backward(params.Why.T @ dlogits[t] + dh_next, steps[t])
        grads.Wxh, grads.Whh, grads.bh = grads.Wxh + dWxh, grads.Whh + dWhh, grads.bh + dbh
    return grads, dh_next


def same_gradients(mine, expected, names=None):
    """Whether every gradient in ``mine`` (a dict) matches ``expected`` (a dict) to TOL."""
    names = list(expected) if names is None else names
    return not wrong_gradients({k: mine[k] for k in names}, {k: expected[k] for k in names})


def common_factor(mine, expected):
    """c if every gradient in ``mine`` is the same multiple c != 1 of the reference's (``expected``), else None:
    the loss was scaled (divided by N or T, or its sign flipped), not one formula wrong."""
    try:
        m = np.concatenate([np.ravel(np.asarray(mine[k], dtype=np.float64)) for k in expected])
    except (ValueError, TypeError):
        return None
    e = np.concatenate([np.ravel(expected[k]) for k in expected])
    if m.shape != e.shape or not np.all(np.isfinite(m)) or not e @ e > 0:
        return None
    c = float(m @ e / (e @ e))
    if abs(c - 1) < 1e-6 or rel_error(m, c * e) >= TOL:
        return None
    return c


def factor_message(c, sizes):
    """'every gradient is 0.5 times the reference's: ...', naming the size c is 1 over (sizes: {'N': 2, ...})."""
    why = next((f": 1/{name} (= 1/{n}), as if the loss were divided by {name}; the course's loss is summed over "
                f"{'the examples' if name == 'N' else 'the time steps'}, not averaged"
                for name, n in sizes.items() if n > 1 and abs(c * n - 1) < 1e-6), "")
    if not why and abs(c + 1) < 1e-6:
        why = ": the sign is flipped (dy = p - onehot(target), not onehot(target) - p)"
    return f"every gradient is {c:.4g} times the reference's, the same factor for all{why}"


def wrong_gradients(mine, expected):
    """{name: relative error} of the gradients in ``mine`` that miss the analytic reference's (TOL)."""
    errors = {}
    for name, e in expected.items():
        g = np.asarray(mine[name], dtype=np.float64)
        errors[name] = rel_error(g, e) if g.shape == np.shape(e) and np.all(np.isfinite(g)) else float("inf")
    return {name: err for name, err in errors.items() if not err < TOL}


def small_charlm(rng, V=5, H=4, scale=0.5):
    params = rnn.RNNParams.init(V, H, V, rng, scale=scale)
    return params.replace(bh=rng.standard_normal((H, 1)) * 0.1, by=rng.standard_normal((V, 1)) * 0.1)


def sampling_cases(seed, n, seed_ix, temperatures, logit_scale=1.0):
    """Cases for a sampler: a small model, a start state and a generator seed, one case per temperature.
    logit_scale multiplies Why and by: large logits (divided by a small temperature) overflow a softmax that
    does not subtract the maximum."""
    params = small_charlm(np.random.default_rng(seed), V=6, H=5, scale=1.0)
    params = params.replace(Why=params.Why * logit_scale, by=params.by * logit_scale)
    h0 = np.random.default_rng(seed + 1).standard_normal((5, 1)) * 0.5
    return [dict(params=dict(params.items()), h=h0, seed_ix=seed_ix, n=n, temperature=t, rng_seed=seed)
            for t in temperatures]


def sampling_args(case):
    return (params_from(case["params"]), np.array(case["h"]), case["seed_ix"], case["n"], case["temperature"],
            np.random.default_rng(case["rng_seed"]))


def compare_indices(got_ixs, ref_ixs, case, hint):
    """AssertionError unless the sampled indices are the reference's, naming an off-by-one when it is one."""
    try:
        got_ixs = [int(i) for i in np.asarray(got_ixs).reshape(-1)]
    except (TypeError, ValueError):
        raise AssertionError(f"return a list of {case['n']} indices, not {kind(got_ixs)}") from None
    ref_ixs = list(ref_ixs)
    if got_ixs == ref_ixs:
        return
    at = f"at temperature {case['temperature']}, "
    if got_ixs[:1] == [case["seed_ix"]] and got_ixs[1:len(ref_ixs)] == ref_ixs[:len(got_ixs) - 1]:
        raise Mistake("sample.seed_in_output",
                      f"{at}your indices are the reference's shifted by one, starting with the seed index "
                      f"{case['seed_ix']}: return the {case['n']} indices sampled after it (the seed is the "
                      "first input, not the first output)")
    if len(got_ixs) > 1 and got_ixs[:-1] == ref_ixs[1:len(got_ixs)]:
        raise Mistake("sample.first_index_missing",
                      f"{at}your indices are the reference's shifted by one (the first one is missing): "
                      "append each index as soon as it is sampled, before it becomes the next input")
    first = next((i for i, (a, b) in enumerate(zip(got_ixs, ref_ixs)) if a != b), min(len(got_ixs), case["n"]))
    raise AssertionError(f"{at}the sampled indices differ from the reference from position {first} on (got "
                         f"{len(got_ixs)} indices, expected {case['n']}). {hint}")
