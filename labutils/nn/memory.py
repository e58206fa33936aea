"""Notebook 06: an LSTM cell from scratch, digit palindromes, and RNN vs LSTM memory and gradient flow.

Layout: batch-first tensors; digits are one-hot: inputs (B, T-1, 10), targets (B,) class ids.
The LSTM step itself lives in ``labutils.nn.lstm_cell`` (notebook 08 uses it too).
"""

import itertools

import numpy as np
import torch
from torch import nn

from labutils.nn.loop import make_optimizer, train
from labutils.nn.lstm_cell import lstm_cell_step, lstm_param_count  # noqa: F401 - the references of notebook 06


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


def train_palindromes(cell, T, max_steps, seed=0, hidden_size=128, batch=128, lr=1e-3, optimizer="adam",
                      forget_bias=0.0, every=100, patience=None, min_delta=0.0, solved_at=None, test_size=1000,
                      init=None):
    """Train a DigitClassifier on fresh palindromes of length T -> History (``.model``; ``.results["test_acc"]``:
    accuracy on 1,000 test palindromes; ``.results["outcome"]``: see ``outcome``).

    Every ``every`` steps it is validated on 1,000 fixed palindromes. patience: stop after that many validations
    without a loss lower by min_delta (a plateau: converged); solved_at: stop once validation accuracy reaches
    it (e.g. 0.99: solved, converged).
    Without either, it trains exactly max_steps steps (a fixed budget, as for comparing optimisers). The best
    validated weights are kept; the test set (another 1,000) is drawn from a separate seed.
    init: a state_dict to start from instead of a fresh initialisation (a curriculum: see ``sweep``).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = DigitClassifier(cell, hidden_size, forget_bias)
    if init is not None:
        model.load_state_dict(init)
    val_x, val_y = palindromes(T, 1000, np.random.default_rng(20_000 + seed))

    def validate(m):
        logits = m(val_x)
        return nn.functional.cross_entropy(logits, val_y).item(), (logits.argmax(1) == val_y).float().mean().item()

    history = train(model, (palindromes(T, batch, rng) for _ in itertools.count()),
                    lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]),
                    make_optimizer(optimizer, model.parameters(), lr), max_steps, validate=validate, every=every,
                    patience=patience, min_delta=min_delta, clip=10.0,
                    solved=(lambda loss, acc: acc >= solved_at) if solved_at else None)
    x, y = palindromes(T, test_size, np.random.default_rng(10_000 + seed))
    with torch.no_grad():
        history.results["test_acc"] = (model(x).argmax(1) == y).float().mean().item()
    history.results["outcome"] = outcome(history)
    return history


CHANCE = 0.1    # ten digits


def outcome(history):
    """How a palindrome run ended, in the words of the tables: "solved" (it reached its goal), "stuck at chance"
    (early stopping fired while its best validation accuracy was still under twice chance: it never left the
    plateau), "plateau" (early stopping fired above chance: converged to a partial solution), or "step cap"
    (still improving when the cap came: not converged)."""
    if not history.converged:
        return "step cap"
    if history.stopped.startswith("solved"):
        return "solved"
    return "stuck at chance" if history.best_metric < 2 * CHANCE else "plateau"


def mean_accuracy(runs):
    """The mean test accuracy of one length's runs (a History per seed)."""
    return float(np.mean([h.results["test_acc"] for h in runs]))


def sweep(cell, lengths, seeds, curriculum=True, fail_below=0.9, **train_args):
    """How far back ``cell`` remembers: train_palindromes at each length T in order, one run per seed ->
    {T: [History per seed]}, up to and including the first T whose mean test accuracy is below fail_below
    (by default the first T it fails to remember, so ``max_T_90`` is the length before it).

    curriculum: each seed's run at T starts from its own trained model at the previous length (the best
    weights it kept), so a long palindrome is learnt by a model that already carries a digit over a shorter
    gap; without it every run starts from a fresh initialisation. train_args go to train_palindromes.
    """
    runs, start = {}, dict.fromkeys(seeds)
    for T in lengths:
        runs[T] = [train_palindromes(cell, T, seed=seed, init=start[seed], **train_args) for seed in seeds]
        if curriculum:
            start = {seed: h.model.state_dict() for seed, h in zip(seeds, runs[T])}
        if mean_accuracy(runs[T]) < fail_below:
            break
    return runs


def max_T_90(runs, every_seed=False):
    """The longest T of a sweep at which the mean accuracy over seeds (or, with every_seed, each seed's) is
    >= 0.9 and so is every shorter T's; 0 if none."""
    best = 0
    for T in sorted(runs):
        if (min(h.results["test_acc"] for h in runs[T]) if every_seed else mean_accuracy(runs[T])) < 0.9:
            break
        best = T
    return best


def sweep_table(sweeps, max_steps):
    """{cell: sweep(...)} -> a Markdown table: per T and cell, the mean test accuracy, each seed's with how its
    run ended (see ``outcome``) and the steps it took; "-" where a cell had failed at a shorter T."""
    cells = list(sweeps)
    lines = ["| T | " + " | ".join(f"{c.upper()} mean | {c.upper()} seeds (outcome, steps)" for c in cells) + " |",
             "|---" * (1 + 2 * len(cells)) + "|"]
    for T in sorted({T for runs in sweeps.values() for T in runs}):
        row = [str(T)]
        for c in cells:
            runs = sweeps[c].get(T)
            if runs is None:
                row += ["-", "not run (failed at a shorter T)"]
                continue
            row += [f"{mean_accuracy(runs):.3f}",
                    "; ".join(f"{h.results['test_acc']:.2f} ({h.results['outcome']}, {h.steps})" for h in runs)]
        lines.append("| " + " | ".join(row) + " |")
    capped = sum(h.results["outcome"] == "step cap" for runs in sweeps.values() for hs in runs.values() for h in hs)
    lines.append(f"\n{capped} run(s) reached the {max_steps}-step cap still improving (not converged)" if capped
                 else f"\nevery run converged before the {max_steps}-step cap")
    return "\n".join(lines)


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


def relative_gradient_flow(model, digits, targets):
    """The median over sequences of ||dL/dh_k|| / ||dL/dh_{T-1}||, k = 1..T-1: how much of the learning signal
    reaches each step, relative to the last one (one sequence alone is noisy: which digits it holds matters).

    digits: (n, T-1) longs, targets: (n,) -> numpy array (T-1,)
    """
    ratios = []
    for i in range(len(targets)):
        norms = hidden_gradient_norms(model, digits[i:i + 1], targets[i:i + 1])
        ratios.append(norms / norms[-1])
    return np.median(ratios, axis=0)


def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """One Adam update written out -> (new param, m, v). t counts from 1."""
    m = betas[0] * m + (1 - betas[0]) * grad
    v = betas[1] * v + (1 - betas[1]) * grad * grad
    m_hat = m / (1 - betas[0] ** t)
    v_hat = v / (1 - betas[1] ** t)
    return param - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v

