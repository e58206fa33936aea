"""Notebook 10's reference: minGRU and minLSTM (Feng et al., "Were RNNs All We Needed?", 2024) and the scans
that compute the linear recurrence ``h_t = a_t * h_(t-1) + b_t`` for every t at once.

Layout: batch first, ``(batch, T, hidden)``; ``h0`` is ``(batch, hidden)``; outputs hold h_1 ... h_T (not h_0).

Why a scan: once no gate reads h_(t-1), every a_t and b_t comes from x_t alone, and composing two steps gives a
step of the same form, ``(a2, b2) o (a1, b1) = (a2 a1, a2 b1 + b2)``; that composition is associative, so the T
steps can be combined in any grouping (a parallel scan) instead of one after another. Three ways to do it:

* ``scan_cumprod``: ``h_t = A_t (h_0 + sum_(s<=t) b_s / A_s)`` with ``A_t = a_1 ... a_t``. Exact algebra, but A_t
  underflows (a product of T numbers below 1: 0.5^1075 is 0 in float64, 0.5^150 in float32) and b_s / A_s
  overflows, so it breaks down at long T.
* ``scan_doubling`` (Hillis and Steele, 1986): log2(T) rounds, round r combining each step with the one 2^r
  before it; only products and sums of the a's and b's, so nothing under- or overflows that the loop's own
  arithmetic would not, and b may have any sign. Its backward is a scan too, run from the last step to the
  first: the gradient that reaches h_t is ``dh_t + a_(t+1) * (that of h_(t+1))``, BPTT for a linear recurrence.
* ``scan_log`` (Heinsen, 2023): the same sum in log space, ``log h_t = a*_t + logcumsumexp_(s<=t)(log b_s - a*_s)``
  with ``a*_t = sum_(s<=t) log a_s`` (and log h_0 as the s = 0 term); ``logcumsumexp`` shifts by its running
  maximum, as notebook 03's softmax does, so nothing under- or overflows. It needs b_t > 0 and h_0 > 0, which is
  why the log-space cells use the positive activation ``g``. The running sums are kept in float64: log h_t is a
  difference of two sums of up to T terms, and in float32 each carries |a*_t| * 2^-24 of rounding (1e-4 at
  T = 4096 for gates near 1/2), where float64 leaves 1e-13.
"""
import statistics
import time
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


def g(x: torch.Tensor) -> torch.Tensor:
    """The paper's positive, continuous activation: x + 1/2 for x >= 0, sigmoid(x) below (so log g exists)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """log g(x), computed without taking the log of g (softplus keeps it finite for very negative x)."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def scan_sequential(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """a, b: (batch, T, hidden), h0: (batch, hidden) -> h (batch, T, hidden), one step after another."""
    h, out = h0, []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def scan_cumprod(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """The same h with cumulative products (exact algebra; under- and overflows at long T, see the module)."""
    A = torch.cumprod(a, dim=1)
    return A * (h0.unsqueeze(1) + torch.cumsum(b / A, dim=1))


def _doubling(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """h of h_t = a_t h_(t-1) + b_t from h_(-1) = 0, by rounds of doubling reach; a, b (batch, T, hidden).
    Works in place: both are overwritten (b becomes h), so callers pass tensors of their own."""
    T, reach = a.shape[1], 1
    while reach < T:
        b[:, reach:] += a[:, reach:] * b[:, :-reach]       # b_t now spans 2 * reach steps ending at t
        if 2 * reach < T:
            a[:, reach:] *= a[:, :-reach].clone()          # and a_t is the product of the same steps' gates
        reach *= 2
    return b


class _DoublingScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, h0):
        b = b.clone()
        b[:, 0] += a[:, 0] * h0                           # h_0 enters as part of the first step
        h = _doubling(a.clone(), b)
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        a, h, h0 = ctx.saved_tensors
        a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], dim=1)     # a_(t+1), 0 after the last step
        grad = _doubling(a_next.flip(1), grad_h.flip(1)).flip(1)    # dL/d(h_t), all paths through later h (flip copies)
        h_prev = torch.cat([h0.unsqueeze(1), h[:, :-1]], dim=1)
        return grad * h_prev, grad, a[:, 0] * grad[:, 0]


def scan_doubling(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """a, b: (batch, T, hidden), h0: (batch, hidden) -> h (batch, T, hidden), the loop's h in log2(T) vectorised
    rounds, with its gradient computed by the reverse scan (not by autograd through the rounds: 3x faster)."""
    return _DoublingScan.apply(a, b, h0)


def scan_log(log_a: torch.Tensor, log_b: torch.Tensor, log_h0: torch.Tensor) -> torch.Tensor:
    """log_a, log_b: (batch, T, hidden), log_h0: (batch, hidden) -> h (batch, T, hidden), in the inputs' dtype.

    h_t = a_t h_(t-1) + b_t with a = exp(log_a), b = exp(log_b), h_0 = exp(log_h0), all in log space."""
    dtype = log_a.dtype
    log_a, log_b, log_h0 = log_a.double(), log_b.double(), log_h0.double()
    a_star = F.pad(torch.cumsum(log_a, dim=1), (0, 0, 1, 0))               # (batch, T + 1, hidden), a*_0 = 0
    values = torch.cat([log_h0.unsqueeze(1), log_b], dim=1)                  # log h_0, then log b_1 ... log b_T
    log_h = a_star + torch.logcumsumexp(values - a_star, dim=1)
    return torch.exp(log_h[:, 1:]).to(dtype)


def _mingru_coefficients(x, weight, bias):
    """The minGRU's a_t = 1 - z_t and b_t = z_t h~_t, each (batch, T, hidden) (z from the first half of the rows
    of x @ weight.T + bias, h~ from the second)."""
    k, c = (x @ weight.T + bias).chunk(2, dim=-1)
    z = torch.sigmoid(k)
    return 1 - z, z * g(c)


def mingru_sequential(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """x: (batch, T, input_size), weight: (2 hidden, input_size), bias: (2 hidden,), h0: (batch, hidden)
    -> h (batch, T, hidden): the minGRU as a loop over time."""
    return scan_sequential(*_mingru_coefficients(x, weight, bias), h0)


def mingru_parallel(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """The same h (h0 > 0) with the log-space scan: log(1 - z) = -softplus(k), log z = -softplus(-k), log g(c)."""
    k, c = (x @ weight.T + bias).chunk(2, dim=-1)
    return scan_log(-F.softplus(k), -F.softplus(-k) + log_g(c), torch.log(h0))


class MinGRU(nn.Module):
    """h_t = (1 - z_t) h_(t-1) + z_t h~_t, z_t = sigmoid(W_z x_t + b_z), h~_t = g(W_h x_t + b_h).

    x: (batch, T, input_size) -> h (batch, T, hidden_size). ``scan`` picks how the same h is computed: "doubling"
    (scan_doubling, the fastest here), "log" (the paper's log-space scan) or "loop" (one step after another)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.linear = nn.Linear(input_size, 2 * hidden_size)    # the gate's and the candidate's pre-activations

    def forward(self, x: torch.Tensor, h0: Optional[torch.Tensor] = None, scan: str = "doubling") -> torch.Tensor:
        h0 = _start(x, self.hidden_size, h0)
        if scan == "log":
            return mingru_parallel(x, self.linear.weight, self.linear.bias, h0)
        return _SCANS[scan](*_mingru_coefficients(x, self.linear.weight, self.linear.bias), h0)


class MinLSTM(nn.Module):
    """h_t = f'_t h_(t-1) + i'_t h~_t with f' = f / (f + i), i' = i / (f + i) (the normalised gates sum to 1, so
    h stays on the scale of h~), f, i = sigmoid(W x_t + b), h~_t = g(W_h x_t + b_h). Shapes as MinGRU."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.linear = nn.Linear(input_size, 3 * hidden_size)

    def forward(self, x: torch.Tensor, h0: Optional[torch.Tensor] = None, scan: str = "doubling") -> torch.Tensor:
        f, i, c = self.linear(x).chunk(3, dim=-1)
        h0 = _start(x, self.hidden_size, h0)
        diff = F.softplus(-f) - F.softplus(-i)                  # log i - log f: f' = sigmoid(-diff), i' = sigmoid(diff)
        if scan == "log":
            return scan_log(-F.softplus(diff), -F.softplus(-diff) + log_g(c), torch.log(h0))
        return _SCANS[scan](torch.sigmoid(-diff), torch.sigmoid(diff) * g(c), h0)


_SCANS = {"doubling": scan_doubling, "loop": scan_sequential}


def _start(x, hidden_size, h0):
    """The given h0, or g(0) = 1/2 everywhere (positive, as the log-space scan needs)."""
    if h0 is None:
        return torch.full((x.shape[0], hidden_size), 0.5, dtype=x.dtype, device=x.device)
    if h0.shape != (x.shape[0], hidden_size):
        raise ValueError(f"h0 has shape {tuple(h0.shape)}: give (batch, hidden_size) = ({x.shape[0]}, {hidden_size})")
    return h0


def param_count(cell: str, input_size: int, hidden_size: int) -> int:
    """Parameters of one layer (PyTorch's convention for GRU and LSTM: two bias vectors per gate)."""
    d, n = input_size, hidden_size
    counts = {"mingru": 2 * (d * n + n), "minlstm": 3 * (d * n + n),
              "gru": 3 * (d * n + n * n + 2 * n), "lstm": 4 * (d * n + n * n + 2 * n)}
    return counts[cell]


# ---- speed ------------------------------------------------------------------------------------------------------

def timed_models(hidden: int, seed: int = 0) -> dict:
    """{name: (module, run)} of the models the lesson times, each run(module, x) -> outputs (batch, T, hidden)."""
    torch.manual_seed(seed)
    return {"nn.LSTM": (nn.LSTM(hidden, hidden, batch_first=True), lambda m, x: m(x)[0]),
            "minGRU, loop": (MinGRU(hidden, hidden), lambda m, x: m(x, scan="loop")),
            "minGRU, log-space scan": (MinGRU(hidden, hidden), lambda m, x: m(x, scan="log")),
            "minGRU, doubling scan": (MinGRU(hidden, hidden), lambda m, x: m(x, scan="doubling"))}


def step_seconds(module: nn.Module, run, x: torch.Tensor, repeats: int = 5) -> float:
    """Median wall seconds of one training step on x: forward, backward of a loss on every output, an Adam update.
    One untimed step first (allocations, Adam's state)."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        run(module, x).square().mean().backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def speed_table(lengths, batch: int, hidden: int, repeats: int = 5, seed: int = 0) -> dict:
    """{model name: [seconds per training step at each T in lengths]} on random inputs (batch, T, hidden)."""
    models = timed_models(hidden, seed)
    generator = torch.Generator().manual_seed(seed)
    table = {name: [] for name in models}
    for T in lengths:
        x = torch.randn(batch, T, hidden, generator=generator)
        for name, (module, run) in models.items():
            table[name].append(step_seconds(module, run, x, repeats))
    return table
