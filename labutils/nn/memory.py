"""Notebook 06: an LSTM cell from scratch, digit palindromes, and RNN vs LSTM memory and gradient flow.

Layout: batch-first tensors; digits are one-hot: inputs (B, T-1, 10), targets (B,) class ids.
Gate order follows PyTorch (input i, forget f, cell candidate g, output o), so weights copy across.
"""

import numpy as np
import torch
from torch import nn


def lstm_cell_step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """One LSTM step. x: (B, d), h, c: (B, n); weight_ih: (4n, d), weight_hh: (4n, n), biases (4n,).

    i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh); c' = f*c + i*g; h' = o*tanh(c') -> (h', c')
    """
    gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def lstm_param_count(d, n, bias_vectors=1):
    """Parameters of one LSTM layer: 4(dn + n^2 + n) with one bias vector; PyTorch keeps two (b_ih, b_hh)."""
    return 4 * (d * n + n * n + bias_vectors * n)


def palindromes(T, batch, rng):
    """Digit palindromes of length T -> inputs (batch, T-1) longs (all but the last digit), targets (batch,).

    The last digit equals the first, so the task is to remember the first digit across T-2 steps.
    """
    if T < 2:
        raise ValueError("a palindrome task needs T >= 2")
    half = rng.integers(0, 10, size=(batch, (T + 1) // 2))
    seq = np.concatenate([half, half[:, : T // 2][:, ::-1]], axis=1)
    return torch.from_numpy(seq[:, :-1].copy()), torch.from_numpy(seq[:, -1].copy())


class DigitClassifier(nn.Module):
    """One-hot digits -> nn.RNN (tanh) or nn.LSTM -> linear layer on the last state -> 10 logits."""

    def __init__(self, cell="lstm", hidden_size=128, forget_bias=0.0):
        super().__init__()
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM}[cell](10, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 10)
        if cell == "lstm" and forget_bias:
            # a positive forget-gate bias starts f_t near 1, so the cell state (and its gradient) is kept
            with torch.no_grad():
                self.rnn.bias_ih_l0[hidden_size:2 * hidden_size] = forget_bias
                self.rnn.bias_hh_l0[hidden_size:2 * hidden_size] = 0.0

    def forward(self, digits):
        """digits: (B, T) longs -> logits (B, 10)"""
        out, _ = self.rnn(nn.functional.one_hot(digits, 10).float())
        return self.head(out[:, -1])


def train_palindromes(cell, T, steps, seed=0, hidden_size=128, batch=128, lr=1e-3, optimizer="adam",
                      test_size=1000, log_every=25, forget_bias=0.0):
    """Train a DigitClassifier on fresh palindromes of length T -> (test accuracy, loss history, model)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = DigitClassifier(cell, hidden_size, forget_bias)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    losses = []
    for step in range(steps):
        x, y = palindromes(T, batch, rng)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        if step % log_every == 0:
            losses.append(loss.item())
    x, y = palindromes(T, test_size, np.random.default_rng(10_000 + seed))
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    return accuracy, losses, model


def make_optimizer(name, params, lr):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise ValueError(f"optimizer must be sgd, momentum, rmsprop or adam, not {name!r}")


def hidden_gradient_norms(model, digits, target):
    """||dL/dh_k|| for k = 1..T-1 on one sequence, stepping the model's own cell and retaining each h_k.

    digits: (1, T-1) longs, target: (1,) -> numpy array (T-1,)
    """
    rnn = model.rnn
    x = nn.functional.one_hot(digits, 10).float()
    n = rnn.hidden_size
    h = torch.zeros(1, n)
    c = torch.zeros(1, n)
    hs = []
    for t in range(x.shape[1]):
        if isinstance(rnn, nn.LSTM):
            h, c = lstm_cell_step(x[:, t], h, c, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
        else:
            h = torch.tanh(x[:, t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)
        h.retain_grad()
        hs.append(h)
    loss = nn.functional.cross_entropy(model.head(h), target)
    loss.backward()
    return np.array([hk.grad.norm().item() for hk in hs])


def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """One Adam update written out -> (new param, m, v). t counts from 1."""
    m = betas[0] * m + (1 - betas[0]) * grad
    v = betas[1] * v + (1 - betas[1]) * grad * grad
    m_hat = m / (1 - betas[0] ** t)
    v_hat = v / (1 - betas[1] ** t)
    return param - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v
