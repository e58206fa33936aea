"""The vanilla RNN in NumPy, in the notation of min-char-rnn.

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)
    y_t = Why h_t + by
    p_t = softmax(y_t)
    L   = sum_t -log p_t[target_t]

Layout: column vectors, one column per example, as in min-char-rnn.
    x_t: (input_size, N)    h_t: (hidden_size, N)    y_t, p_t: (output_size, N)
    Wxh: (hidden_size, input_size)   Whh: (hidden_size, hidden_size)   bh: (hidden_size, 1)
    Why: (output_size, hidden_size)  by: (output_size, 1)
Sequences stack time first: xs (T, input_size, N), hs (T, hidden_size, N), targets (T, N).
Every forward returns a cache; its backward takes the upstream gradient and that cache.
"""
from dataclasses import dataclass, fields
from typing import Tuple

import numpy as np

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")


@dataclass
class RNNParams:
    """The five parameter arrays of a vanilla RNN (also used for their gradients and Adagrad memories)."""
    Wxh: np.ndarray
    Whh: np.ndarray
    Why: np.ndarray
    bh: np.ndarray
    by: np.ndarray

    @classmethod
    def init(cls, input_size, hidden_size, output_size, rng, scale=0.01, dtype=np.float64):
        """Small Gaussian weights (min-char-rnn uses scale 0.01) and zero biases."""
        def w(*shape):
            return (rng.standard_normal(shape) * scale).astype(dtype)
        return cls(Wxh=w(hidden_size, input_size), Whh=w(hidden_size, hidden_size),
                   Why=w(output_size, hidden_size),
                   bh=np.zeros((hidden_size, 1), dtype), by=np.zeros((output_size, 1), dtype))

    def __post_init__(self):
        H, D = np.shape(self.Wxh)
        V = np.shape(self.Why)[0]
        expected = {"Wxh": (H, D), "Whh": (H, H), "Why": (V, H), "bh": (H, 1), "by": (V, 1)}
        for name, shape in expected.items():
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"{name} has shape {np.shape(getattr(self, name))}, expected {shape} "
                                 f"for hidden_size={H}, input_size={D}, output_size={V}")

    @property
    def hidden_size(self):
        return self.Whh.shape[0]

    @property
    def input_size(self):
        return self.Wxh.shape[1]

    @property
    def output_size(self):
        return self.Why.shape[0]

    def items(self):
        return [(f.name, getattr(self, f.name)) for f in fields(self)]

    def map(self, fn):
        """A new RNNParams with ``fn`` applied to every array."""
        return RNNParams(**{name: fn(value) for name, value in self.items()})

    def copy(self):
        return self.map(np.copy)

    def zeros_like(self):
        return self.map(np.zeros_like)

    def replace(self, **arrays):
        return RNNParams(**{**dict(self.items()), **arrays})


def softmax(logits: np.ndarray, axis: int = 0) -> np.ndarray:
    """Softmax along ``axis`` with the max subtracted first, so large logits don't overflow."""
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def rnn_step_forward(x, h_prev, Wxh, Whh, bh):
    """One step: h = tanh(Wxh x + Whh h_prev + bh).

    x: (input_size, N), h_prev: (hidden_size, N) -> h: (hidden_size, N), cache
    """
    h = np.tanh(Wxh @ x + Whh @ h_prev + bh)
    return h, (x, h_prev, Wxh, Whh, h)


def rnn_step_backward(dh, cache):
    """Backward of one step, given dL/dh: (hidden_size, N).

    Returns dx (input_size, N), dh_prev (hidden_size, N), dWxh, dWhh, dbh (shapes of the parameters).
    """
    x, h_prev, Wxh, Whh, h = cache
    da = (1.0 - h * h) * dh          # through tanh: tanh'(a) = 1 - tanh(a)^2
    dWxh = da @ x.T
    dWhh = da @ h_prev.T
    dbh = np.sum(da, axis=1, keepdims=True)
    return Wxh.T @ da, Whh.T @ da, dWxh, dWhh, dbh


def rnn_forward(xs, h0, params):
    """Run the RNN over a sequence.

    xs: (T, input_size, N), h0: (hidden_size, N)
    -> hs: (T, hidden_size, N) (hs[t] is h_{t+1}, the state after input t), logits: (T, output_size, N), cache
    """
    if xs.ndim != 3 or xs.shape[1] != params.input_size:
        raise ValueError(f"xs has shape {xs.shape}, expected (T, input_size={params.input_size}, N)")
    if h0.shape != (params.hidden_size, xs.shape[2]):
        raise ValueError(f"h0 has shape {h0.shape}, expected (hidden_size={params.hidden_size}, N={xs.shape[2]})")
    h, steps, hs = h0, [], []
    for x in xs:
        h, step_cache = rnn_step_forward(x, h, params.Wxh, params.Whh, params.bh)
        steps.append(step_cache)
        hs.append(h)
    hs = np.stack(hs)
    logits = np.einsum("vh,thn->tvn", params.Why, hs) + params.by
    return hs, logits, (steps, hs, params)


def rnn_backward(dlogits, cache, dh_last=None):
    """BPTT: gradients of the loss w.r.t. every parameter and the initial state.

    dlogits: (T, output_size, N), dh_last: optional extra gradient on the final state (hidden_size, N).
    -> grads (RNNParams), dh0 (hidden_size, N)
    """
    steps, hs, params = cache
    grads = params.zeros_like()
    grads.Why = np.einsum("tvn,thn->vh", dlogits, hs)
    grads.by = dlogits.sum(axis=(0, 2))[:, None]
    dh_next = np.zeros_like(hs[0]) if dh_last is None else dh_last
    for t in reversed(range(len(steps))):
        dh = params.Why.T @ dlogits[t] + dh_next    # from the output at t and from step t+1
        _, dh_next, dWxh, dWhh, dbh = rnn_step_backward(dh, steps[t])
        grads.Wxh += dWxh
        grads.Whh += dWhh
        grads.bh += dbh
    return grads, dh_next


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> Tuple[float, np.ndarray]:
    """Summed cross-entropy of softmax(logits) against integer targets.

    logits: (T, V, N), targets: (T, N) ints -> loss (float), dlogits (T, V, N)
    """
    T, V, N = logits.shape
    if targets.shape != (T, N):
        raise ValueError(f"targets has shape {targets.shape}, expected (T={T}, N={N})")
    p = softmax(logits, axis=1)
    t_idx, n_idx = np.meshgrid(np.arange(T), np.arange(N), indexing="ij")
    loss = -np.sum(np.log(p[t_idx, targets, n_idx]))
    dlogits = p.copy()
    dlogits[t_idx, targets, n_idx] -= 1.0      # dL/dy = p - onehot(target)
    return float(loss), dlogits


def rnn_loss(params, xs, targets, h0):
    """Forward, cross-entropy and BPTT in one call.

    -> loss, grads (RNNParams), h_last (hidden_size, N), dh0 (hidden_size, N)
    """
    hs, logits, cache = rnn_forward(xs, h0, params)
    loss, dlogits = softmax_cross_entropy(logits, targets)
    grads, dh0 = rnn_backward(dlogits, cache)
    return loss, grads, hs[-1], dh0


def rnn_loss_without_carry(params, xs, targets, h0):
    """rnn_loss as a BPTT that forgets dh_next computes it: every step sees only its own output's gradient, so
    nothing teaches the recurrence to remember (notebook 01's comparison, and a mistake the checks name).

    -> loss, grads (RNNParams), h_last (hidden_size, N), dh0 (hidden_size, N)
    """
    hs, logits, (steps, _, _) = rnn_forward(xs, h0, params)
    loss, dlogits = softmax_cross_entropy(logits, targets)
    grads = params.zeros_like()
    grads.Why = np.einsum("tvn,thn->vh", dlogits, hs)
    grads.by = dlogits.sum(axis=(0, 2))[:, None]
    dh0 = np.zeros_like(h0)
    for t in range(len(steps)):
        _, dh_prev, dWxh, dWhh, dbh = rnn_step_backward(params.Why.T @ dlogits[t], steps[t])
        grads.Wxh, grads.Whh, grads.bh = grads.Wxh + dWxh, grads.Whh + dWhh, grads.bh + dbh
        dh0 = dh_prev if t == 0 else dh0
    return loss, grads, hs[-1], dh0


def hidden_gradients(Whh: np.ndarray, hs: np.ndarray, dh_last: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """Backpropagate dL/dh_T to every earlier state, for a loss that depends only on the last state.

    Whh: (H, H), hs: (T, H, N) the states h_1..h_T, dh_last: dL/dh_T (H, N).
    activation "tanh" uses the stored states (dh_{k-1} = Whh^T ((1 - h_k^2) * dh_k));
    "linear" drops the tanh factor (dh_{k-1} = Whh^T dh_k).
    -> dhs: (T + 1, H, N) with dhs[j] = dL/dh_{T-j}, so the index j is the distance T - k.
    """
    if activation not in ("tanh", "linear"):
        raise ValueError(f"activation must be 'tanh' or 'linear', not {activation!r}")
    dhs = [dh_last]
    for t in reversed(range(len(hs))):
        da = (1.0 - hs[t] ** 2) * dhs[-1] if activation == "tanh" else dhs[-1]
        dhs.append(Whh.T @ da)
    return np.stack(dhs)


def gradient_norms_for_radius(radius: float, hidden_size: int, T: int, rng: np.random.Generator,
                              activation: str = "tanh", input_scale: float = 1.0) -> np.ndarray:
    """||dL/dh_{T-j}|| for j = 0..T in a random RNN whose Whh has spectral radius ``radius``.

    The RNN h_t = act(Whh h_{t-1} + u_t) runs on random inputs u_t ~ N(0, input_scale^2) from h_0 = 0;
    the loss depends on h_T only, through a random unit vector dL/dh_T.
    -> norms (T + 1,), Whh (hidden_size, hidden_size)
    """
    Whh = with_spectral_radius(rng.standard_normal((hidden_size, hidden_size)), radius)
    h, hs = np.zeros((hidden_size, 1)), []
    for _ in range(T):
        a = Whh @ h + input_scale * rng.standard_normal((hidden_size, 1))
        h = np.tanh(a) if activation == "tanh" else a
        hs.append(h)
    dh_last = rng.standard_normal((hidden_size, 1))
    dhs = hidden_gradients(Whh, np.stack(hs), dh_last / np.linalg.norm(dh_last), activation)
    return np.linalg.norm(dhs.reshape(T + 1, -1), axis=1), Whh


def growth_rate(norms: np.ndarray, skip: int = 0) -> float:
    """Geometric factor per step fitted to norms[skip:] (least squares on log norms): <1 vanishes, >1 explodes."""
    j = np.arange(skip, len(norms))
    slope = np.polyfit(j, np.log(np.maximum(norms[skip:], 1e-300)), 1)[0]
    return float(np.exp(slope))


def with_spectral_radius(W: np.ndarray, radius: float) -> np.ndarray:
    """Rescale a square matrix so that its largest |eigenvalue| is ``radius``."""
    return W * (radius / np.max(np.abs(np.linalg.eigvals(W))))
