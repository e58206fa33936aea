"""Student-facing checks for the NumPy notebooks (01-04): run a student's function and the reference on the
same random inputs, and raise AssertionError with a message that says what differs, by how much, and
where to look.

Each check is a ``Check`` (``labutils.checkspec``): the notebook's ``check_*`` function runs it in the
kernel, the grader runs the same description with the student's code in a sandbox and the comparison in
its own process. Checks compare outputs; they never show the reference code.
"""
import functools

import numpy as np

from labutils import rnn
from labutils.checkspec import Check, expect_array, expect_tuple, kind, lazy, run_check
from labutils.gradcheck import grad_check, numerical_gradient, rel_error

TOL = 1e-7
# Gradients are judged against the analytic reference, to TOL. The numerical gradient (central differences,
# h = 1e-5) only explains a failure: its own error on these float64 cases reaches ~2e-7 (the reference missed
# 1e-7 on 1 seed in 270), so a tolerance on it would fail correct code at random.


def _rng(seed):
    return np.random.default_rng(seed)


def assert_close(name, got, expected, tol=TOL, hint=""):
    """AssertionError naming ``name`` unless ``got`` matches ``expected`` (shape, then relative error)."""
    got = expect_array(got, name) if not isinstance(got, np.ndarray) else got
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        raise AssertionError(f"{name} has shape {got.shape}, expected {expected.shape}. {hint}".strip())
    if not np.all(np.isfinite(got)):
        raise AssertionError(f"{name} contains NaN or inf. {hint}".strip())
    err = rel_error(got, expected)
    if not err < tol:
        raise AssertionError(f"{name} is wrong: relative error {err:.2e} (should be < {tol:.0e}). {hint}".strip())
    return err


def fallback(student_fn, reference_fn, checked=None):
    """student_fn, or reference_fn (with a one-time note) while an exercise is unfinished or fails its check.

    checked: the student's functions whose checks decide (default: student_fn itself). Later cells use
    this so that one unfinished or wrong exercise neither stops the rest of the notebook nor silently
    spoils its results; the student's own version is used once its check passes.
    """
    from labutils.checkspec import outcome
    checked = [student_fn] if checked is None else list(checked)

    def note(why):
        if not wrapper.used_reference:
            wrapper.used_reference = True
            print(f"note: {why}, so this cell uses the labutils reference; your own version will be used once "
                  "it passes its check")

    @functools.wraps(student_fn)
    def wrapper(*args, **kwargs):
        failing = [getattr(fn, "__name__", "?") for fn in checked if outcome(fn) is False]
        if failing:
            note(f"your {', '.join(failing)} does not pass its check yet")
            return reference_fn(*args, **kwargs)
        try:
            return student_fn(*args, **kwargs)
        except NotImplementedError:
            note(f"{student_fn.__name__} is not implemented yet")
            return reference_fn(*args, **kwargs)
    wrapper.used_reference = False
    return wrapper


def _params(d):
    """An RNNParams from a case's dict of arrays (copies, so a student's in-place edits stay local)."""
    return rnn.RNNParams(**{k: np.array(v, dtype=np.float64) for k, v in d.items()})


def _as_params(got, what):
    """The student's gradients (a dict after the round trip) as RNNParams, or an AssertionError saying why not."""
    if not isinstance(got, dict) or set(got) != set(rnn.PARAM_NAMES):
        raise AssertionError(f"{what} should be an RNNParams with {', '.join(rnn.PARAM_NAMES)}, not {kind(got)}")
    try:
        return rnn.RNNParams(**{k: np.asarray(v, dtype=np.float64) for k, v in got.items()})
    except (ValueError, TypeError) as err:
        raise AssertionError(f"{what}: {err}") from None


# ---- notebook 01: the vanilla RNN and BPTT ----------------------------------------------------------

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
        rng = _rng(seed)
        case = _random_step(rng, D, H, N)
        case["dh"] = rng.standard_normal((H, N))
        cases.append(case)
    return cases


STEP_FORWARD_HINT = ("h = tanh(Wxh @ x + Whh @ h_prev + bh); check the order of the matrix products and that bh "
                     "(hidden_size, 1) broadcasts over the N columns.")


def _verify_step_forward(case, got):
    expected, _ = rnn.rnn_step_forward(*_step_args(case))
    assert_close("h", got, expected, hint=STEP_FORWARD_HINT)


RNN_STEP_FORWARD = Check(
    "check_rnn_step_forward", ("rnn_step_forward",), _step_cases,
    probe=lambda fns, case: fns["rnn_step_forward"](*_step_args(case))[0],
    verify=_verify_step_forward,
    passed=f"rnn_step_forward OK (relative error < {TOL:.0e} on 3 random sizes)")


def check_rnn_step_forward(fn, seed=0):
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


def _earlier_is_wrong(name, got, expected, fixes):
    """AssertionError saying that an earlier exercise, not this one, is what fails."""
    try:
        assert_close(name, got, expected)
    except AssertionError as err:
        raise AssertionError(f"{fixes} cannot be checked yet: it works on what your {name.split()[0]} "
                             f"returns, and that still fails its own check ({err}). Fix that exercise first.") from None


def _verify_step_backward(case, got):
    args, dh = _step_args(case), np.array(case["dh"])
    expected_h, ref_cache = rnn.rnn_step_forward(*args)
    grads = got.get("grads")
    try:
        assert_close("h", got["h"], expected_h)
    except AssertionError:                 # the forward is wrong: judge the backward on the reference's cache
        grads = got.get("grads_on_reference_cache")
        if isinstance(grads, dict) and "__error__" in grads:
            _earlier_is_wrong("rnn_step_forward's h", got["h"], expected_h, "rnn_step_backward")
    grads = expect_tuple(grads, 5, "(dx, dh_prev, dWxh, dWhh, dbh)")
    expected = rnn.rnn_step_backward(dh, ref_cache)

    for name, g, e in zip(GRAD_NAMES, grads, expected):
        assert_close(name, g, e, hint=STEP_BACKWARD_HINTS[name])


RNN_STEP_BACKWARD = Check(
    "check_rnn_step_backward", ("rnn_step_forward", "rnn_step_backward"),
    lambda seed: _step_cases(seed, ((4, 5, 3), (1, 1, 1))),
    probe=_probe_step_backward, verify=_verify_step_backward, references=_step_references,
    reference=lambda: rnn.rnn_step_backward, given=lambda case: {"cache": rnn.rnn_step_forward(*_step_args(case))[1]},
    passed=f"rnn_step_backward OK: all five gradients match the reference (relative error < {TOL:.0e})")


def check_rnn_step_backward(forward_fn, backward_fn, seed=1):
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
    hs, logits, _ = fns["rnn_forward"](np.array(case["xs"]), np.array(case["h0"]), _params(case["params"]))
    return {"hs": hs, "logits": logits}


def _verify_forward(case, got):
    ref_hs, ref_logits, _ = rnn.rnn_forward(case["xs"], case["h0"], _params(case["params"]))
    assert_close("hs", got["hs"], ref_hs, hint="hs[t] is the state after input t: feed each new h into the next step.")
    assert_close("logits", got["logits"], ref_logits, hint="logits[t] = Why @ hs[t] + by.")


RNN_FORWARD = Check(
    "check_rnn_forward", ("rnn_forward",),
    lambda seed: [_random_sequence(_rng(seed), T=T, N=N) for T, N in [(4, 2), (1, 1)]],
    probe=_probe_forward, verify=_verify_forward, references=_step_references, reference=lambda: rnn.rnn_forward,
    passed="rnn_forward OK (T = 4 and T = 1)")


def check_rnn_forward(fn, seed=2):
    """fn(xs, h0, params) -> (hs, logits, cache)."""
    run_check(RNN_FORWARD, [fn], seed)


BPTT_HINTS = {"Wxh": "dWxh accumulates da_t @ x_t.T over every time step.",
              "Whh": "dWhh accumulates da_t @ h_{t-1}.T: the state *before* step t, h0 at t = 0.",
              "Why": "dWhy accumulates dy_t @ h_t.T with dy_t = p_t - onehot(target_t).",
              "bh": "dbh accumulates da_t summed over examples.",
              "by": "dby accumulates dy_t summed over examples.",
              "h0": "dh0 is Whh.T @ da_0, what flows out of the first step."}


def _probe_bptt(fns, case):
    params = _params(case["params"])
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
        ref_cache = (list(given["steps"]), np.array(given["hs"]), _params(case["params"]))
        ref_dlogits = rnn.softmax_cross_entropy(np.array(given["logits"]), np.array(case["targets"]))[1]
        out["on_reference_cache"] = dict(zip(("grads", "dh0"), fns["rnn_backward"](ref_dlogits, ref_cache)))
    except NotImplementedError:
        raise
    except Exception as err:   # noqa: BLE001 - only consulted when the student's forward is wrong
        out["on_reference_cache"] = {"__error__": f"{type(err).__name__}: {err}"}
    return out


def _unchanged(before, after, fn_name):
    """AssertionError if the student's function changed the parameters it was given."""
    if isinstance(after, dict) and set(after) == set(before):
        changed = [k for k in rnn.PARAM_NAMES if not np.array_equal(np.asarray(after[k]), before[k])]
        if changed:
            raise AssertionError(f"{fn_name} changed the parameters it was given ({', '.join(changed)}): the "
                                 "gradients must be new arrays (params.zeros_like()), not params itself or a view "
                                 "of it; grads = params makes every += below change the model")


def _no_carry(grads, without, correct, name, fn_name):
    """AssertionError naming the missing carry when grads equal BPTT without the gradient from later steps."""
    def same(a, b):
        return all(rel_error(getattr(a, k), getattr(b, k)) < TOL for k in ("Wxh", "Whh", "bh"))
    if same(grads, without) and not same(without, correct):
        raise AssertionError(f"{fn_name} drops the gradient that flows back from later time steps: dWxh, dWhh and "
                             f"dbh only see each step's own output. Add {name} (what step t+1 sends back to h_t) "
                             "to dh at every step, and update it from the step's backward.")


def _bptt_without_carry(params, xs, targets, h0):
    """The gradients a BPTT that forgets dh_next computes (every step sees only its own output)."""
    hs, logits, (steps, _, _) = rnn.rnn_forward(xs, h0, params)
    _, dlogits = rnn.softmax_cross_entropy(logits, targets)
    grads = params.zeros_like()
    for t in range(len(steps)):
        _, _, dWxh, dWhh, dbh = rnn.rnn_step_backward(params.Why.T @ dlogits[t], steps[t])
        grads.Wxh, grads.Whh, grads.bh = grads.Wxh + dWxh, grads.Whh + dWhh, grads.bh + dbh
    return grads


def _verify_bptt(case, got):
    params, xs, h0, targets = _params(case["params"]), case["xs"], case["h0"], case["targets"]
    ref_hs, ref_logits, _ = rnn.rnn_forward(xs, h0, params)
    try:
        assert_close("hs", got["hs"], ref_hs)
        assert_close("logits", got["logits"], ref_logits)
    except AssertionError:                 # the forward is wrong: judge the backward on the reference's cache
        fallback_run = got.get("on_reference_cache") or {}
        if "__error__" in fallback_run:
            _earlier_is_wrong("rnn_forward's hs", got["hs"], ref_hs, "rnn_backward")
            _earlier_is_wrong("rnn_forward's logits", got["logits"], ref_logits, "rnn_backward")
        got = fallback_run
    _unchanged(case["params"], got.get("params_after"), "rnn_backward")
    grads = _as_params(got["grads"], "the grads that rnn_backward returns")
    _no_carry(grads, _bptt_without_carry(params, xs, targets, h0), rnn.rnn_loss(params, xs, targets, h0)[1],
              "dh_next", "rnn_backward")
    dh0 = expect_array(got["dh0"], "dh0")
    if dh0.shape != h0.shape:
        raise AssertionError(f"dh0 has shape {dh0.shape}, expected {h0.shape}. {BPTT_HINTS['h0']}")
    _, ref_grads, _, ref_dh0 = rnn.rnn_loss(params, xs, targets, h0)
    mine, expected = {**dict(grads.items()), "h0": dh0}, {**dict(ref_grads.items()), "h0": ref_dh0}
    bad = _wrong_gradients(mine, expected)
    if bad:
        worst = max(bad, key=bad.get)
        loss = (lambda v: rnn.rnn_loss(params, xs, targets, v)[0]) if worst == "h0" else \
            (lambda v: rnn.rnn_loss(params.replace(**{worst: v}), xs, targets, h0)[0])
        numeric = rel_error(mine[worst], numerical_gradient(loss, h0 if worst == "h0" else getattr(params, worst)))
        raise AssertionError(f"BPTT gradient for {worst} is wrong: relative error {numeric:.2e} vs the numerical "
                             f"gradient, {bad[worst]:.2e} vs the reference's (should be < {TOL:.0e}); also wrong: "
                             f"{sorted(set(bad) - {worst}) or 'nothing else'}. {BPTT_HINTS[worst]}")


def _wrong_gradients(mine, expected):
    """{name: relative error} of the gradients in ``mine`` that miss the analytic reference's (TOL)."""
    errors = {}
    for name, e in expected.items():
        g = np.asarray(mine[name], dtype=np.float64)
        errors[name] = rel_error(g, e) if g.shape == np.shape(e) and np.all(np.isfinite(g)) else float("inf")
    return {name: err for name, err in errors.items() if not err < TOL}


def _bptt_references():
    return {**_step_references(), "rnn_forward": rnn.rnn_forward}


def _bptt_given(case):
    """The reference forward's outputs and step caches: the probe runs the student's backward on them too."""
    hs, logits, (steps, _, _) = rnn.rnn_forward(case["xs"], case["h0"], _params(case["params"]))
    return {"hs": hs, "logits": logits, "steps": steps}


BPTT = Check(
    "check_bptt", ("rnn_forward", "rnn_backward"),
    lambda seed: [_random_sequence(_rng(seed), T=T, H=H, N=N) for T, H, N in [(5, 4, 2), (1, 3, 1), (3, 1, 2)]],
    probe=_probe_bptt, verify=_verify_bptt, references=_bptt_references, reference=lambda: rnn.rnn_backward,
    given=_bptt_given,
    passed=f"BPTT OK: every gradient matches the reference's (< {TOL:.0e}) for T = 5, 1, 3 and hidden size 1")


def check_bptt(forward_fn, backward_fn, seed=3):
    """forward_fn(xs, h0, params) -> hs, logits, cache; backward_fn(dlogits, cache) -> grads, dh0: the
    cross-entropy joins them, and every gradient is checked against the numerical gradient of the loss."""
    run_check(BPTT, [forward_fn, backward_fn], seed)


# ---- notebook 02: the character-level language model ----------------------------------------------

def _small_charlm(rng, V=5, H=4, scale=0.5):
    params = rnn.RNNParams.init(V, H, V, rng, scale=scale)
    return params.replace(bh=rng.standard_normal((H, 1)) * 0.1, by=rng.standard_normal((V, 1)) * 0.1)


def _one_hot_cases(seed):
    cases = [(0, 1), (2, 5), (64, 65), (7, 65)]
    rng = _rng(seed)
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


def check_one_hot(fn, seed=0):
    """fn(ix, vocab_size) -> (vocab_size, 1) column with a 1 at ix."""
    run_check(ONE_HOT, [fn], seed)


def _charlm_references():
    from labutils.charlm import one_hot
    return {"one_hot": one_hot}


def _loss_fun_cases(seed):
    cases = []
    for T in (6, 1):
        rng = _rng(seed)
        params = _small_charlm(rng)
        cases.append(dict(params=dict(params.items()), inputs=rng.integers(0, 5, T).tolist(),
                          targets=rng.integers(0, 5, T).tolist(), hprev=rng.standard_normal((4, 1)) * 0.5))
    return cases


def _probe_loss_fun(fns, case):
    params = _params(case["params"])
    loss, grads, h_last = fns["loss_fun"](list(case["inputs"]), list(case["targets"]), np.array(case["hprev"]), params)
    return {"loss": loss, "grads": grads, "h_last": h_last, "params_after": params}


LOSS_FUN_HINTS = {"Wxh": "dWxh += dhraw @ x_t.T, with x_t the one-hot input.",
                  "Whh": "dWhh += dhraw @ h_{t-1}.T (hprev at t = 0).",
                  "Why": "dWhy += dy @ h_t.T with dy = p_t - onehot(target).",
                  "bh": "dbh += dhraw.", "by": "dby += dy."}


def _verify_loss_fun(case, got):
    from labutils.charlm import loss_fun
    params, inputs, targets, hprev = _params(case["params"]), case["inputs"], case["targets"], case["hprev"]
    ref_loss, ref_grads, ref_h = loss_fun(inputs, targets, hprev, params)
    _unchanged(case["params"], got.get("params_after"), "loss_fun")
    assert_close("loss", got["loss"], ref_loss, hint="sum -log p_t[target_t] over the chunk (not the mean).")
    assert_close("h_last", got["h_last"], ref_h, hint="return the hidden state after the last input of the chunk.")
    grads = _as_params(got["grads"], "the grads that loss_fun returns")
    if len(inputs) > 1:
        xs = np.stack([np.eye(params.input_size)[:, [i]] for i in inputs])
        without = _bptt_without_carry(params, xs, np.array(targets)[:, None], hprev)
        _no_carry(grads, without, ref_grads, "dhnext", "loss_fun")
    bad = _wrong_gradients(dict(grads.items()), dict(ref_grads.items()))
    if bad:
        worst = max(bad, key=bad.get)
        numeric = grad_check(params, lambda p: loss_fun(inputs, targets, hprev, p)[0], grads)[worst]
        raise AssertionError(f"d{worst} is wrong: relative error {numeric:.2e} vs the numerical gradient, "
                             f"{bad[worst]:.2e} vs the reference's (should be < {TOL:.0e}). {LOSS_FUN_HINTS[worst]}")


LOSS_FUN = Check(
    "check_loss_fun", ("loss_fun",), _loss_fun_cases, probe=_probe_loss_fun, verify=_verify_loss_fun,
    references=_charlm_references, reference=lazy("labutils.charlm:loss_fun"),
    passed=f"loss_fun OK: loss, last state and all five gradients match (< {TOL:.0e}) for T = 6 and T = 1")


def check_loss_fun(fn, seed=4):
    """fn(inputs, targets, hprev, params) -> (loss, grads, h_last): one chunk, summed loss, min-char-rnn style."""
    run_check(LOSS_FUN, [fn], seed)


def _adagrad_cases(seed):
    rng = _rng(seed)
    params = _small_charlm(rng)
    grads = params.map(lambda a: rng.standard_normal(a.shape) * 4)     # some entries beyond +-5
    memory = params.map(lambda a: rng.random(a.shape))
    return [dict(params=dict(params.items()), grads=dict(grads.items()), memory=dict(memory.items()),
                 learning_rate=0.1, clip=5.0)]


def _probe_adagrad(fns, case):
    params, grads, memory = _params(case["params"]), _params(case["grads"]), _params(case["memory"])
    fns["adagrad_update"](params, grads, memory, case["learning_rate"], case["clip"])
    return {"params": params, "memory": memory}


def _verify_adagrad(case, got):
    from labutils.charlm import adagrad_update
    before = _params(case["params"])
    mine_params, mine_memory = _as_params(got["params"], "params"), _as_params(got["memory"], "memory")
    params, grads, memory = _params(case["params"]), _params(case["grads"]), _params(case["memory"])
    adagrad_update(params, grads, memory, case["learning_rate"], case["clip"])
    if all(np.array_equal(a, b) for (_, a), (_, b) in zip(mine_params.items(), before.items())):
        raise AssertionError("params did not change: update the arrays in place (param -= ...), don't rebind names")
    if all(np.array_equal(a, b) for (_, a), (_, b) in zip(mine_memory.items(), _params(case["memory"]).items())):
        raise AssertionError("memory did not change: Adagrad's memory must persist between steps, so update it in "
                             "place (mem += g * g); mem = mem + g * g makes a new array and the caller never sees it")
    for name, _ in params.items():
        assert_close(f"memory.{name}", getattr(mine_memory, name), getattr(memory, name),
                     hint="clip the gradient to [-clip, clip] first, then memory += grad * grad.")
        assert_close(f"params.{name}", getattr(mine_params, name), getattr(params, name),
                     hint="param -= learning_rate * grad / np.sqrt(memory + 1e-8), with the clipped grad.")


ADAGRAD_UPDATE = Check(
    "check_adagrad_update", ("adagrad_update",), _adagrad_cases, probe=_probe_adagrad, verify=_verify_adagrad,
    passed="adagrad_update OK: clipping at +-5, memory and parameters match the reference")


def check_adagrad_update(fn, seed=5):
    """fn(params, grads, memory, learning_rate, clip) updates params and memory in place."""
    run_check(ADAGRAD_UPDATE, [fn], seed)


def _sampling_cases(seed, n, seed_ix, temperatures):
    params = _small_charlm(_rng(seed), V=6, H=5, scale=1.0)
    h0 = _rng(seed + 1).standard_normal((5, 1)) * 0.5
    return [dict(params=dict(params.items()), h=h0, seed_ix=seed_ix, n=n, temperature=t, rng_seed=seed)
            for t in temperatures]


def _sampling_args(case):
    return (_params(case["params"]), np.array(case["h"]), case["seed_ix"], case["n"], case["temperature"],
            np.random.default_rng(case["rng_seed"]))


def _compare_indices(got_ixs, ref_ixs, case, hint):
    try:
        got_ixs = [int(i) for i in np.asarray(got_ixs).reshape(-1)]
    except (TypeError, ValueError):
        raise AssertionError(f"return a list of {case['n']} indices, not {kind(got_ixs)}") from None
    if got_ixs != list(ref_ixs):
        first = next((i for i, (a, b) in enumerate(zip(got_ixs, ref_ixs)) if a != b), min(len(got_ixs), case["n"]))
        raise AssertionError(f"at temperature {case['temperature']}, the sampled indices differ from the reference "
                             f"from position {first} on (got {len(got_ixs)} indices, expected {case['n']}). {hint}")


SAMPLE_HINT = ("Feed each sampled index back in as the next input, divide the logits by the temperature before the "
               "softmax, and draw with rng.choice(vocab_size, p=p).")


def _probe_sample(fns, case):
    ixs, h = fns["sample"](*_sampling_args(case))
    return {"ixs": list(ixs), "h": h}


def _verify_sample(case, got):
    from labutils.sampling import sample
    ref_ixs, ref_h = sample(*_sampling_args(case))
    _compare_indices(got["ixs"], ref_ixs, case, SAMPLE_HINT)
    assert_close("final h", got["h"], ref_h, hint="return the state after the last step.")


SAMPLE = Check(
    "check_sample", ("sample",), lambda seed: _sampling_cases(seed, 40, 2, (1.0, 0.5)),
    probe=_probe_sample, verify=_verify_sample, references=_charlm_references,
    reference=lazy("labutils.sampling:sample"),
    passed="sample OK: the same indices as the reference at temperature 1 and 0.5 with the same generator")


def check_sample(fn, seed=6):
    """fn(params, h, seed_ix, n, temperature, rng) -> (ixs, h); draws with rng.choice(vocab_size, p=p)."""
    run_check(SAMPLE, [fn], seed)


# ---- notebook 03: temperature ------------------------------------------------------------------------

SOFTMAX_TEMPERATURES = (1.0, 0.5, 2.0, 0.05, 1e-3, 1e3)
BAD_TEMPERATURES = (0.0, -1.0)


def _softmax_cases(seed):
    return [dict(logits=_rng(seed).standard_normal((10, 3)) * 3, temperatures=list(SOFTMAX_TEMPERATURES),
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
            raise AssertionError(f"at temperature {temperature} the probabilities contain NaN or inf: logits / "
                                 "temperature overflow np.exp; subtract the maximum (along axis 0) before np.exp")
        assert_close(f"p at temperature {temperature}", p, ref(case["logits"], temperature), tol=1e-9,
                     hint="divide the logits by the temperature, subtract the max along axis 0, then softmax.")
    if not np.all(np.isfinite(expect_array(got["huge"], "p for logits of 1e4"))):
        raise AssertionError("logits of 1e4 gave NaN or inf: subtract the maximum before np.exp")
    for bad, outcome in zip(case["bad"], got["bad"]):
        if outcome == "returned":
            raise AssertionError(f"temperature={bad} must raise ValueError (it is not a distribution)")
        if outcome != "ValueError":
            raise AssertionError(f"temperature={bad} raised {outcome}; raise ValueError instead")


SOFTMAX_WITH_TEMPERATURE = Check(
    "check_softmax_with_temperature", ("softmax_with_temperature",), _softmax_cases,
    probe=_probe_softmax, verify=_verify_softmax,
    passed="softmax_with_temperature OK: matches for temperatures 1e-3 to 1e3, stable for logits of 1e4, "
           "rejects temperature <= 0")


def check_softmax_with_temperature(fn, seed=7):
    """fn(logits, temperature) -> probabilities along axis 0; ValueError for temperature <= 0."""
    run_check(SOFTMAX_WITH_TEMPERATURE, [fn], seed)


# ---- notebook 04: encoder-decoder ---------------------------------------------------------------------

def _encode_cases(seed):
    params = _small_charlm(_rng(seed), V=6, H=5, scale=1.0)
    h0 = _rng(seed + 1).standard_normal((5, 1)) * 0.5
    return [dict(params=dict(params.items()), h0=h0, ixs=ixs) for ixs in ([3, 1, 4, 1, 5, 0, 2], [2], [])]


def _verify_encode(case, got):
    from labutils.probing import encode
    assert_close(f"h after encoding {len(case['ixs'])} characters", got,
                 encode(_params(case["params"]), case["h0"], case["ixs"]),
                 hint="h = tanh(Wxh[:, [ix]] + Whh @ h + bh) for each index in turn; an empty text returns h0.")


ENCODE = Check(
    "check_encode", ("encode",), _encode_cases,
    probe=lambda fns, case: fns["encode"](_params(case["params"]), np.array(case["h0"]), list(case["ixs"])),
    verify=_verify_encode, passed="encode OK: matches the reference for 7, 1 and 0 priming characters")


def check_encode(fn, seed=8):
    """fn(params, h0, ixs) -> h (hidden_size, 1): the state after reading ixs, without sampling."""
    run_check(ENCODE, [fn], seed)


def _verify_decode(case, got):
    from labutils.probing import decode
    _compare_indices(got, decode(*_sampling_args(case)), case,
                     "Feed seed_ix first, then each sampled index; draw with rng.choice(vocab_size, p=p).")


DECODE = Check(
    "check_decode", ("decode",), lambda seed: _sampling_cases(seed, 30, 1, (1.0, 0.7)),
    probe=lambda fns, case: list(fns["decode"](*_sampling_args(case))), verify=_verify_decode,
    passed="decode OK: the same continuation as the reference with the same generator")


def check_decode(fn, seed=9):
    """fn(params, h, seed_ix, n, temperature, rng) -> list of n indices."""
    run_check(DECODE, [fn], seed)


CHECKS = {c.grade_id: c for c in (RNN_STEP_FORWARD, RNN_STEP_BACKWARD, RNN_FORWARD, BPTT, ONE_HOT, LOSS_FUN,
                                  ADAGRAD_UPDATE, SAMPLE, SOFTMAX_WITH_TEMPERATURE, ENCODE, DECODE)}
