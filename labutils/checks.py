"""Student-facing checks: run a student's function and the reference on fresh random inputs, and
raise AssertionError with a message that says what differs, by how much, and where to look.

Checks compare outputs; they never show the reference code.
"""
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
    except NotImplementedError:
        raise AssertionError(f"{fn.__name__} is not implemented yet: fill in the cell between "
                             "### BEGIN SOLUTION and ### END SOLUTION") from None


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
