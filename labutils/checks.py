"""Student-facing checks: run a student's function and the reference on fresh random inputs, and
raise AssertionError with a message that says what differs, by how much, and where to look.

Checks compare outputs; they never show the reference code.
"""
import functools

import numpy as np

from labutils import rnn
from labutils.gradcheck import grad_check, numerical_gradient, rel_error

TOL = 1e-7


def _rng(seed):
    return np.random.default_rng(seed)


def assert_close(name, got, expected, tol=TOL, hint=""):
    """AssertionError naming ``name`` unless ``got`` matches ``expected`` (shape, then relative error)."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        raise AssertionError(f"{name} has shape {got.shape}, expected {expected.shape}. {hint}".strip())
    if not np.all(np.isfinite(got)):
        raise AssertionError(f"{name} contains NaN or inf. {hint}".strip())
    err = rel_error(got, expected)
    if not err < tol:
        raise AssertionError(f"{name} is wrong: relative error {err:.2e} (should be < {tol:.0e}). {hint}".strip())
    return err


def _random_step(rng, D=4, H=5, N=3):
    x = rng.standard_normal((D, N))
    h_prev = rng.standard_normal((H, N))
    Wxh, Whh = rng.standard_normal((H, D)) * 0.5, rng.standard_normal((H, H)) * 0.5
    bh = rng.standard_normal((H, 1)) * 0.1
    return x, h_prev, Wxh, Whh, bh


def _call(fn, *args):
    try:
        return fn(*args)
    except NotImplementedError as err:
        tb = err.__traceback__
        while tb.tb_next is not None:          # the function that actually raised it
            tb = tb.tb_next
        name, called = tb.tb_frame.f_code.co_name, getattr(fn, "__name__", str(fn))
        where = name if name == called or name == "<module>" else f"{name} (called by {called})"
        raise NotImplementedError(f"{where} is not implemented yet: fill in the cell "
                                  "between ### BEGIN SOLUTION and ### END SOLUTION") from None


def fallback(student_fn, reference_fn):
    """student_fn, or reference_fn (with a one-time note) while student_fn raises NotImplementedError.

    Later cells use it so that one unfinished exercise doesn't stop the rest of the notebook.
    """
    @functools.wraps(student_fn)
    def wrapper(*args, **kwargs):
        try:
            return student_fn(*args, **kwargs)
        except NotImplementedError:
            if not wrapper.used_reference:
                wrapper.used_reference = True
                print(f"note: {student_fn.__name__} is not implemented yet, so this cell uses the labutils reference; "
                      "your own version will be used once you write it")
            return reference_fn(*args, **kwargs)
    wrapper.used_reference = False
    return wrapper


def check_rnn_step_forward(fn, seed=0):
    """fn(x, h_prev, Wxh, Whh, bh) -> (h, cache)."""
    for D, H, N in [(4, 5, 3), (1, 1, 1), (7, 3, 2)]:
        args = _random_step(_rng(seed), D, H, N)
        h, _ = _call(fn, *args)
        expected, _ = rnn.rnn_step_forward(*args)
        assert_close("h", h, expected, hint="h = tanh(Wxh @ x + Whh @ h_prev + bh); check the order of "
                     "the matrix products and that bh (hidden_size, 1) broadcasts over the N columns.")
    print(f"rnn_step_forward OK (relative error < {TOL:.0e} on 3 random sizes)")


def check_rnn_step_backward(forward_fn, backward_fn, seed=1):
    """backward_fn(dh, cache) -> dx, dh_prev, dWxh, dWhh, dbh, with cache from forward_fn."""
    hints = {"dx": "dx = Wxh.T @ da, where da = (1 - h**2) * dh is the gradient before tanh.",
             "dh_prev": "dh_prev = Whh.T @ da.",
             "dWxh": "dWxh = da @ x.T (sum over the N examples is the matrix product).",
             "dWhh": "dWhh = da @ h_prev.T.",
             "dbh": "dbh sums da over the examples: keepdims so it is (hidden_size, 1)."}
    for D, H, N in [(4, 5, 3), (1, 1, 1)]:
        rng = _rng(seed)
        args = _random_step(rng, D, H, N)
        dh = rng.standard_normal((H, N))
        _, cache = _call(forward_fn, *args)
        got = _call(backward_fn, dh, cache)
        _, ref_cache = rnn.rnn_step_forward(*args)
        expected = rnn.rnn_step_backward(dh, ref_cache)
        # and against numerical gradients of sum(h * dh)
        def f(i):
            return lambda v: np.sum(rnn.rnn_step_forward(*(args[:i] + (v,) + args[i + 1:]))[0] * dh)
        numeric = [numerical_gradient(f(i), args[i]) for i in range(5)]
        names = ["dx", "dh_prev", "dWxh", "dWhh", "dbh"]
        if len(got) != 5:
            raise AssertionError(f"return 5 arrays ({', '.join(names)}), not {len(got)}")
        for name, g, e, num in zip(names, got, expected, numeric):
            assert_close(name, g, e, hint=hints[name])
            assert_close(f"{name} (vs numerical gradient)", g, num, hint=hints[name])
    print(f"rnn_step_backward OK: all five gradients match the reference and numerical gradients (< {TOL:.0e})")


def _random_sequence(rng, T=4, D=3, H=5, V=3, N=2):
    params = rnn.RNNParams.init(D, H, V, rng, scale=0.5)
    params.bh = rng.standard_normal((H, 1)) * 0.1
    params.by = rng.standard_normal((V, 1)) * 0.1
    xs = rng.standard_normal((T, D, N))
    h0 = rng.standard_normal((H, N)) * 0.5
    targets = rng.integers(0, V, size=(T, N))
    return params, xs, h0, targets


def check_rnn_forward(fn, seed=2):
    """fn(xs, h0, params) -> (hs, logits, cache)."""
    for T, N in [(4, 2), (1, 1)]:
        params, xs, h0, _ = _random_sequence(_rng(seed), T=T, N=N)
        hs, logits, _ = _call(fn, xs, h0, params)
        ref_hs, ref_logits, _ = rnn.rnn_forward(xs, h0, params)
        assert_close("hs", hs, ref_hs, hint="hs[t] is the state after input t: feed each new h into the next step.")
        assert_close("logits", logits, ref_logits, hint="logits[t] = Why @ hs[t] + by.")
    print("rnn_forward OK (T = 4 and T = 1)")


def check_bptt(loss_fn, seed=3):
    """loss_fn(params, xs, targets, h0) -> (loss, grads, h_last, dh0), checked numerically per parameter."""
    hints = {"Wxh": "dWxh accumulates da_t @ x_t.T over every time step.",
             "Whh": "dWhh accumulates da_t @ h_{t-1}.T: the state *before* step t, h0 at t = 0.",
             "Why": "dWhy accumulates dy_t @ h_t.T with dy_t = p_t - onehot(target_t).",
             "bh": "dbh accumulates da_t summed over examples.",
             "by": "dby accumulates dy_t summed over examples.",
             "h0": "dh0 is Whh.T @ da_0, what flows out of the first step."}
    for T, H, N in [(5, 4, 2), (1, 3, 1), (3, 1, 2)]:
        params, xs, h0, targets = _random_sequence(_rng(seed), T=T, H=H, N=N)
        loss, grads, h_last, dh0 = _call(loss_fn, params, xs, targets, h0)
        ref_loss, _, ref_h_last, _ = rnn.rnn_loss(params, xs, targets, h0)
        assert_close("loss", loss, ref_loss, hint="the loss is the sum over steps and examples of -log p[target].")
        assert_close("h_last", h_last, ref_h_last, hint="return the state after the last input.")
        errors = grad_check(params, lambda p: rnn.rnn_loss(p, xs, targets, h0)[0], grads)
        errors["h0"] = rel_error(dh0, numerical_gradient(lambda v: rnn.rnn_loss(params, xs, targets, v)[0], h0))
        bad = {k: v for k, v in errors.items() if not v < TOL}
        if bad:
            worst = max(bad, key=bad.get)
            raise AssertionError(f"BPTT gradient for {worst} is wrong: relative error {bad[worst]:.2e} vs the "
                                 f"numerical gradient (should be < {TOL:.0e}); also wrong: "
                                 f"{sorted(set(bad) - {worst}) or 'nothing else'}. {hints[worst]}")
    print(f"BPTT OK: every gradient matches the numerical gradient (< {TOL:.0e}) for T = 5, 1, 3 and hidden size 1")


# ---- notebook 02: the character-level language model ----------------------------------------------

def _small_charlm(rng, V=5, H=4, scale=0.5):
    params = rnn.RNNParams.init(V, H, V, rng, scale=scale)
    return params.replace(bh=rng.standard_normal((H, 1)) * 0.1, by=rng.standard_normal((V, 1)) * 0.1)


def check_one_hot(fn, seed=None):
    """fn(ix, vocab_size) -> (vocab_size, 1) column with a 1 at ix (plus random cases when seed is given)."""
    cases = [(0, 1), (2, 5), (64, 65)]
    if seed is not None:
        rng = _rng(seed)
        cases += [(int(rng.integers(0, V)), V) for V in rng.integers(1, 100, 5)]
    for ix, V in cases:
        x = _call(fn, ix, V)
        expected = np.zeros((V, 1))
        expected[ix] = 1
        assert_close(f"one_hot({ix}, {V})", x, expected, hint="a column vector (vocab_size, 1), zeros but a 1 at ix.")
    W = _rng(0).standard_normal((3, 65))
    assert_close("Wxh @ one_hot(ix)", W @ _call(fn, 7, 65), W[:, [7]])
    print("one_hot OK, and Wxh @ one_hot(ix) == Wxh[:, [ix]]: the product only picks a column")


def check_loss_fun(fn, seed=4):
    """fn(inputs, targets, hprev, params) -> (loss, grads, h_last): one chunk, summed loss, min-char-rnn style."""
    from labutils.charlm import loss_fun
    hints = {"Wxh": "dWxh += dhraw @ x_t.T, with x_t the one-hot input.",
             "Whh": "dWhh += dhraw @ h_{t-1}.T (hprev at t = 0).",
             "Why": "dWhy += dy @ h_t.T with dy = p_t - onehot(target).",
             "bh": "dbh += dhraw.", "by": "dby += dy."}
    for T in (6, 1):
        rng = _rng(seed)
        params = _small_charlm(rng)
        inputs, targets = rng.integers(0, 5, T).tolist(), rng.integers(0, 5, T).tolist()
        hprev = rng.standard_normal((4, 1)) * 0.5
        loss, grads, h_last = _call(fn, inputs, targets, hprev, params)
        ref_loss, _, ref_h = loss_fun(inputs, targets, hprev, params)
        assert_close("loss", loss, ref_loss, hint="sum -log p_t[target_t] over the chunk (not the mean).")
        assert_close("h_last", h_last, ref_h, hint="return the hidden state after the last input of the chunk.")
        errors = grad_check(params, lambda p: loss_fun(inputs, targets, hprev, p)[0], grads)
        worst = max(errors, key=errors.get)
        if not errors[worst] < TOL:
            raise AssertionError(f"d{worst} is wrong: relative error {errors[worst]:.2e} vs the numerical gradient "
                                 f"(should be < {TOL:.0e}). {hints[worst]}")
    print(f"loss_fun OK: loss, last state and all five gradients match (< {TOL:.0e}) for T = 6 and T = 1")


def check_adagrad_update(fn, seed=5):
    """fn(params, grads, memory, learning_rate, clip) updates params and memory in place."""
    from labutils.charlm import adagrad_update
    rng = _rng(seed)
    params = _small_charlm(rng)
    grads = params.map(lambda a: rng.standard_normal(a.shape) * 4)     # some entries beyond +-5
    memory = params.map(lambda a: rng.random(a.shape))
    mine = (params.copy(), grads.copy(), memory.copy())
    ref = (params.copy(), grads.copy(), memory.copy())
    _call(fn, *mine, 0.1, 5.0)
    adagrad_update(*ref, 0.1, 5.0)
    if all(np.array_equal(a, b) for (_, a), (_, b) in zip(mine[0].items(), params.items())):
        raise AssertionError("params did not change: update the arrays in place (param -= ...), don't rebind names")
    for name, value in ref[1].items():
        assert_close(f"memory.{name}", getattr(mine[2], name), getattr(ref[2], name),
                     hint="clip the gradient to [-clip, clip] first, then memory += grad * grad.")
        assert_close(f"params.{name}", getattr(mine[0], name), getattr(ref[0], name),
                     hint="param -= learning_rate * grad / np.sqrt(memory + 1e-8), with the clipped grad.")
    print("adagrad_update OK: clipping at +-5, memory and parameters match the reference")


def _sampled_indices_match(fn, reference, seed, n, seed_ix, temperatures, hint):
    """Run fn and the reference from the same state with equally seeded generators; -> the reference's outputs."""
    params = _small_charlm(_rng(seed), V=6, H=5, scale=1.0)
    h0 = _rng(seed + 1).standard_normal((5, 1)) * 0.5
    outputs = []
    for temperature in temperatures:
        got = _call(fn, params, h0.copy(), seed_ix, n, temperature, np.random.default_rng(seed))
        expected = reference(params, h0.copy(), seed_ix, n, temperature, np.random.default_rng(seed))
        got_ixs = got[0] if isinstance(got, tuple) else got
        ref_ixs = expected[0] if isinstance(expected, tuple) else expected
        if [int(i) for i in got_ixs] != list(ref_ixs):
            first = next((i for i, (a, b) in enumerate(zip(got_ixs, ref_ixs)) if a != b), min(len(got_ixs), n))
            raise AssertionError(f"at temperature {temperature}, the sampled indices differ from the reference from "
                                 f"position {first} on (got {len(got_ixs)} indices, expected {n}). {hint}")
        outputs.append((got, expected))
    return outputs


def check_sample(fn, seed=6):
    """fn(params, h, seed_ix, n, temperature, rng) -> (ixs, h); draws with rng.choice(vocab_size, p=p)."""
    from labutils.sampling import sample
    hint = ("Feed each sampled index back in as the next input, divide the logits by the temperature before the "
            "softmax, and draw with rng.choice(vocab_size, p=p).")
    for got, expected in _sampled_indices_match(fn, sample, seed, 40, 2, (1.0, 0.5), hint):
        assert_close("final h", got[1], expected[1], hint="return the state after the last step.")
    print("sample OK: the same indices as the reference at temperature 1 and 0.5 with the same generator")


# ---- notebook 03: temperature ------------------------------------------------------------------------

def check_softmax_with_temperature(fn, seed=7):
    """fn(logits, temperature) -> probabilities along axis 0; ValueError for temperature <= 0."""
    from labutils.sampling import softmax_with_temperature as ref
    rng = _rng(seed)
    logits = rng.standard_normal((10, 3)) * 3
    for temperature in (1.0, 0.5, 2.0, 1e-3, 1e3):
        p = _call(fn, logits, temperature)
        assert_close(f"p at temperature {temperature}", p, ref(logits, temperature), tol=1e-9,
                     hint="divide the logits by the temperature, subtract the max along axis 0, then softmax.")
    huge = np.array([[1e4], [1e4 - 1], [-1e4]])
    p = _call(fn, huge, 1.0)
    if not np.all(np.isfinite(p)):
        raise AssertionError("logits of 1e4 gave NaN or inf: subtract the maximum before np.exp")
    for bad in (0.0, -1.0):
        try:
            fn(logits, bad)
        except ValueError:
            continue
        except Exception as err:   # noqa: BLE001 - report any other behaviour precisely
            raise AssertionError(f"temperature={bad} raised {type(err).__name__}; raise ValueError instead") from None
        raise AssertionError(f"temperature={bad} must raise ValueError (it is not a distribution)")
    print("softmax_with_temperature OK: matches for temperatures 1e-3 to 1e3, stable for logits of 1e4, "
          "rejects temperature <= 0")


# ---- notebook 04: encoder-decoder ---------------------------------------------------------------------

def check_encode(fn, seed=8):
    """fn(params, h0, ixs) -> h (hidden_size, 1): the state after reading ixs, without sampling."""
    from labutils.probing import encode
    params = _small_charlm(_rng(seed), V=6, H=5, scale=1.0)
    h0 = _rng(seed + 1).standard_normal((5, 1)) * 0.5
    for ixs in ([3, 1, 4, 1, 5, 0, 2], [2], []):
        h = _call(fn, params, h0.copy(), ixs)
        assert_close(f"h after encoding {len(ixs)} characters", h, encode(params, h0, ixs),
                     hint="h = tanh(Wxh[:, [ix]] + Whh @ h + bh) for each index in turn; an empty text returns h0.")
    print("encode OK: matches the reference for 7, 1 and 0 priming characters")


def check_decode(fn, seed=9):
    """fn(params, h, seed_ix, n, temperature, rng) -> list of n indices."""
    from labutils.probing import decode
    _sampled_indices_match(fn, decode, seed, 30, 1, (1.0, 0.7),
                           "Feed seed_ix first, then each sampled index; draw with rng.choice(vocab_size, p=p).")
    print("decode OK: the same continuation as the reference with the same generator")
