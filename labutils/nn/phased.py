"""Notebook 08: the Phased LSTM (Neil, Pfeiffer and Liu, NIPS 2016) and the frequency-discrimination task.

Batch-first: values (B, T, 1), timestamps (B, T) in milliseconds; the state is (h, c), each (B, n).
"""
import math

import numpy as np
import torch
from torch import nn

from labutils.nn.loop import make_optimizer, train
from labutils.nn.lstm_cell import lstm_cell_step


def time_gate(t, tau, shift, r_on, alpha=1e-3):
    """The Phased LSTM's time gate k_t, element-wise (works on tensors or NumPy arrays).

    phi = ((t - shift) mod tau) / tau is the phase in the unit's cycle. The gate rises linearly from 0 to 1 in
    the first half of the open phase (phi < r_on / 2), falls back to 0 in the second half (phi < r_on) and
    leaks alpha * phi while closed.
    """
    mod = torch.remainder if isinstance(t, torch.Tensor) or isinstance(tau, torch.Tensor) else np.mod
    where = torch.where if isinstance(t, torch.Tensor) or isinstance(tau, torch.Tensor) else np.where
    phi = mod(t - shift, tau) / tau
    return where(phi < 0.5 * r_on, 2 * phi / r_on, where(phi < r_on, 2 - 2 * phi / r_on, alpha * phi))


class PhasedLSTMCell(nn.Module):
    """nn.LSTMCell's weights and the notebook-06 LSTM step, with a time gate per unit.

    tau (period) is learned in log space, initialised log-uniformly in tau_range; shift uniformly in [0, tau);
    r_on is fixed (the paper's 0.05 by default). c_t = k c~_t + (1 - k) c_{t-1}, and likewise for h_t.
    """

    def __init__(self, input_size, hidden_size, tau_range=(1.0, 100.0), r_on=0.05, alpha=1e-3):
        super().__init__()
        self.cell = nn.LSTMCell(input_size, hidden_size)
        lo, hi = math.log(tau_range[0]), math.log(tau_range[1])
        self.log_tau = nn.Parameter(torch.empty(hidden_size).uniform_(lo, hi))
        self.shift = nn.Parameter(torch.rand(hidden_size) * self.log_tau.detach().exp())
        self.r_on, self.alpha = r_on, alpha

    @property
    def tau(self):
        return self.log_tau.exp()

    def forward(self, x, t, state):
        """x: (B, d), t: (B,) timestamps, state (h, c) -> (h, c), k (B, n)"""
        h, c, k = phased_lstm_step(x, t, *state, self)
        return (h, c), k


def phased_lstm_step(x, t, h, c, cell):
    """One Phased LSTM step: the LSTM's proposal (h~, c~), let through where the unit's time gate is open.

    x (B, d), t (B,), h, c (B, n); cell: a PhasedLSTMCell -> h_new, c_new, k, each (B, n)
    """
    lstm = cell.cell
    h_prop, c_prop = lstm_cell_step(x, h, c, lstm.weight_ih, lstm.weight_hh, lstm.bias_ih, lstm.bias_hh)
    k = time_gate(t[:, None], cell.tau, cell.shift, cell.r_on, cell.alpha)
    return k * h_prop + (1 - k) * h, k * c_prop + (1 - k) * c, k


class SequenceClassifier(nn.Module):
    """(value, timestamp) sequences -> LSTM or Phased LSTM (stepped in Python) -> last state -> 2 logits.

    The plain LSTM gets the timestamp as a second input feature (it has no other way to see time).
    """

    def __init__(self, phased, hidden_size=32, **gate):
        super().__init__()
        self.phased = phased
        self.hidden_size = hidden_size
        self.cell = PhasedLSTMCell(1, hidden_size, **gate) if phased else nn.LSTMCell(2, hidden_size)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, values, times):
        """values: (B, T, 1), times: (B, T) -> logits (B, 2), open fraction (n,) (1 for the LSTM)"""
        B, T, _ = values.shape
        h = c = values.new_zeros(B, self.hidden_size)
        opens = []
        for i in range(T):
            if self.phased:
                (h, c), k = self.cell(values[:, i], times[:, i], (h, c))
                opens.append((k > self.cell.alpha).float().mean(0))
            else:
                h, c = self.cell(torch.cat([values[:, i], times[:, i:i + 1] / 100.0], dim=1), (h, c))
        open_fraction = torch.stack(opens).mean(0) if opens else values.new_ones(self.hidden_size)
        return self.head(h), open_fraction


def frequency_task(batch, rng, steps=50, duration=30.0, band=(5.0, 6.0), period_range=(1.0, 100.0), regular=True):
    """Sine waves; label 1 when the period (ms) lies inside ``band``. Half the batch is drawn inside the band.

    regular: samples every duration/steps ms; otherwise at sorted uniform random times in [0, duration).
    -> values (B, steps, 1) float32, times (B, steps) float32, labels (B,) long
    """
    labels = (np.arange(batch) < batch // 2).astype(np.int64)
    rng.shuffle(labels)
    lo, hi = np.log(period_range[0]), np.log(period_range[1])
    outside = np.exp(rng.uniform(lo, hi, batch))
    while np.any(bad := (outside >= band[0]) & (outside <= band[1])):
        outside[bad] = np.exp(rng.uniform(lo, hi, bad.sum()))
    period = np.where(labels == 1, rng.uniform(band[0], band[1], batch), outside)
    if regular:
        times = np.tile(np.arange(steps) * duration / steps, (batch, 1))
    else:
        times = np.sort(rng.uniform(0, duration, (batch, steps)), axis=1)
    phase = rng.uniform(0, 2 * np.pi, (batch, 1))
    values = np.sin(2 * np.pi * times / period[:, None] + phase)
    return (torch.from_numpy(values[..., None].astype(np.float32)), torch.from_numpy(times.astype(np.float32)),
            torch.from_numpy(labels))


def train_frequency(phased, regular, iters, seed=0, lr=1e-2, hidden_size=32, batch=64, steps=50, duration=30.0,
                    test_size=1000, **gate):
    """Train a SequenceClassifier on fresh frequency-task batches (Adam) and test it on a fixed set.

    -> History (``.model``; ``.train_loss``: per iteration) whose ``results`` are test_acc, test_loss,
       open_fraction (n,) on the test set and initial_tau (n,): the Phased LSTM's periods before training,
       None for the LSTM
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SequenceClassifier(phased, hidden_size, **(gate if phased else {}))
    initial_tau = model.cell.tau.detach().numpy().copy() if phased else None
    batches = (frequency_task(batch, rng, steps, duration, regular=regular) for _ in range(iters))
    history = train(model, batches, lambda m, b: nn.functional.cross_entropy(m(b[0], b[1])[0], b[2]),
                    make_optimizer("adam", model.parameters(), lr), iters, every=1)
    values, times, labels = frequency_task(test_size, np.random.default_rng(10_000 + seed), steps, duration,
                                           regular=regular)
    with torch.no_grad():
        logits, open_fraction = model(values, times)
    history.results = dict(test_acc=(logits.argmax(1) == labels).float().mean().item(),
                           test_loss=nn.functional.cross_entropy(logits, labels).item(),
                           open_fraction=open_fraction.numpy(), initial_tau=initial_tau)
    return history
