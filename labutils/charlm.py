"""Character-level language model training with min-char-rnn semantics.

Two ways to compute one chunk's loss and gradients:
  * ``loss_fun``: the reference, as in min-char-rnn: one-hot column vectors, one matrix product per step;
  * ``batch_loss_fun``: the fast path: index lookups (``Wxh[:, ix]``) instead of one-hot products, states
    stacked so each weight gradient is one matrix product, and B independent streams at once.
With B = 1 both give the same loss and gradients (to rounding). Training, Adagrad with element-wise
clipping, and held-out evaluation are here too. Layout as in ``labutils.rnn`` (columns are examples).
"""
import ctypes
import functools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from labutils.rnn import RNNParams, softmax


@dataclass(frozen=True)
class TrainSettings:
    """How ``train`` trains a character RNN; the defaults are min-char-rnn's (Adagrad, one stream)."""
    hidden_size: int = 100                # RNN units (of fresh params; given params keep theirs)
    seq_length: int = 25                  # characters per chunk: the truncated-BPTT length
    batch_size: int = 1                   # independent streams averaged into each update
    optimizer: str = "adagrad"            # or "adam" (see ``updates``)
    learning_rate: float = 0.1
    weight_decay: float = 0.0             # see ``updates``
    lr_halflife: Optional[float] = None   # the learning rate halves every this many updates (None: constant)
    clip: float = 5.0                     # gradients are clipped element-wise to +-clip
    temperature: float = 1.0              # train through softmax(logits / temperature) (fast method only)
    dtype: Any = np.float64               # of fresh params
    method: str = "fast"                  # "fast" (batch_loss_fun) or "reference" (loss_fun, one stream only)
    # BLAS threads while training (None: the library's default). One, because the products here are small: a
    # second thread gains 10-55 % on a quiet machine and loses 2-20x on a busy one (``make bench`` measures both)
    threads: Optional[int] = 1
    seed: int = 0                         # fresh params and the streams' starting offsets

    def __post_init__(self):
        if self.method not in ("fast", "reference"):
            raise ValueError(f"method must be 'fast' or 'reference', not {self.method!r}")
        if self.method == "reference" and (self.batch_size != 1 or self.temperature != 1.0):
            raise ValueError("the reference loss handles one stream at temperature 1: use method='fast'")


# The fast path's settings, chosen by benchmarks/charlm_learning.py (held-out cross-entropy against wall-clock
# seconds): 32 streams make more updates per second than 128 at nearly the same gradient quality, Adam keeps
# its steps useful where Adagrad's only shrink, weight decay stops the play being memorised, and a learning
# rate that halves every 20,000 updates lets long runs settle instead of wandering.
LEARNING_SETTINGS = TrainSettings(batch_size=32, optimizer="adam", learning_rate=3e-3, weight_decay=0.1,
                                  lr_halflife=20000)


def one_hot(ix, vocab_size):
    """-> (vocab_size, 1) float64 column, zeros with a 1 at row ix (min-char-rnn's input encoding)."""
    x = np.zeros((vocab_size, 1))
    x[ix] = 1.0
    return x


def loss_fun(inputs, targets, hprev, params):
    """Reference loss and gradients over one chunk (min-char-rnn's lossFun).

    inputs, targets: sequences of T ints; hprev: (hidden_size, 1).
    -> loss (summed over the chunk), grads (RNNParams), h_last (hidden_size, 1)
    """
    V = params.output_size
    xs, hs, ps = {}, {-1: np.copy(hprev)}, {}
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = one_hot(inputs[t], V)
        hs[t] = np.tanh(params.Wxh @ xs[t] + params.Whh @ hs[t - 1] + params.bh)
        ps[t] = softmax(params.Why @ hs[t] + params.by)
        loss += -np.log(ps[t][targets[t], 0])
    grads = params.zeros_like()
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        grads.Why += dy @ hs[t].T
        grads.by += dy
        dh = params.Why.T @ dy + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        grads.bh += dhraw
        grads.Wxh += dhraw @ xs[t].T
        grads.Whh += dhraw @ hs[t - 1].T
        dhnext = params.Whh.T @ dhraw
    return float(loss), grads, hs[len(inputs) - 1]


def batch_loss_fun(params, inputs, targets, h, temperature=1.0):
    """Fast loss and gradients over B streams at once.

    inputs, targets: int arrays (T, B); h: (hidden_size, B), the state each stream carries in.
    temperature: the loss uses softmax(logits / temperature) (1 is the usual model; see notebook 03).
    -> loss: summed over the T steps and averaged over the B streams (so B = 1 equals ``loss_fun``),
       grads: RNNParams (averaged over streams likewise), h_last: (hidden_size, B)
    """
    T, B = inputs.shape
    H, V = params.hidden_size, params.output_size
    dtype = params.Whh.dtype
    x_part = (params.Wxh.T + params.bh.T)[inputs]     # (T, B, H): a lookup replaces Wxh @ one_hot (+ bias)
    hs = np.empty((T + 1, B, H), dtype)               # hs[0] = carried-in state; rows are streams
    hs[0] = h.T
    WhhT = params.Whh.T
    for t in range(T):                                # the only sequential part: one (B, H) x (H, H) product
        np.matmul(hs[t], WhhT, out=hs[t + 1])
        hs[t + 1] += x_part[t]
        np.tanh(hs[t + 1], out=hs[t + 1])
    states = hs[1:].reshape(T * B, H)
    logits = states @ params.Why.T + params.by.T      # (T*B, V): every step's output in one product
    if temperature != 1.0:
        logits /= temperature
    logits -= logits.max(axis=1, keepdims=True)
    dy = np.exp(logits)
    dy /= dy.sum(axis=1, keepdims=True)               # probabilities, turned into dL/dy in place
    rows, cols = np.arange(T * B), targets.reshape(-1)
    loss = -np.log(dy[rows, cols]).sum() / B
    dy[rows, cols] -= 1
    dy /= B * temperature                             # dL/dlogits, through the division by temperature
    dh_out = (dy @ params.Why).reshape(T, B, H)       # the outputs' share of dL/dh, every step at once
    da = 1 - hs[1:] * hs[1:]                          # tanh' for every step, times dL/dh below
    dh_next = np.zeros((B, H), dtype)
    Whh = params.Whh
    for t in reversed(range(T)):
        dh_out[t] += dh_next
        da[t] *= dh_out[t]
        np.matmul(da[t], Whh, out=dh_next)
    da_flat = da.reshape(T * B, H)
    one_hot = np.zeros((T * B, V), dtype)             # a one-hot product is faster here than np.add.at
    one_hot[rows, inputs.reshape(-1)] = 1
    grads = RNNParams(Wxh=da_flat.T @ one_hot, Whh=da_flat.T @ hs[:-1].reshape(T * B, H),
                      Why=dy.T @ states, bh=da_flat.sum(axis=0)[:, None], by=dy.sum(axis=0)[:, None])
    return float(loss), grads, hs[-1].T.copy()


def adagrad_update(params, grads, memory, learning_rate=0.1, clip=5.0, eps=1e-8):
    """In place: clip each gradient entry to [-clip, clip], then the Adagrad step (min-char-rnn's update)."""
    for (name, param), (_, grad), (_, mem) in zip(params.items(), grads.items(), memory.items()):
        np.clip(grad, -clip, clip, out=grad)
        mem += grad * grad
        param -= learning_rate * grad / np.sqrt(mem + eps)


@dataclass
class AdamState:
    """Adam's running moments (one array per parameter) and its step count."""
    m: RNNParams
    v: RNNParams
    step: int = 0

    @classmethod
    def like(cls, params):
        return cls(params.zeros_like(), params.zeros_like())


def adam_update(params, grads, state, learning_rate=3e-3, clip=5.0, weight_decay=0.0, lr_halflife=None,
                betas=(0.9, 0.999), eps=1e-8):
    """In place: clip each gradient entry to [-clip, clip] (as min-char-rnn), then one bias-corrected Adam step;
    with ``weight_decay``, the weight matrices (not the biases) also shrink by learning_rate * weight_decay
    (AdamW's decoupled decay). With ``lr_halflife``, the learning rate halves every that many updates.

    Adagrad's steps only shrink (its memory only grows); Adam's follow a running average of the squared
    gradient, so they stay useful for many more updates, and the decay keeps a small play from being
    memorised (``make bench``'s learning curves).
    """
    state.step += 1
    if lr_halflife:
        learning_rate = learning_rate * 0.5 ** (state.step / lr_halflife)
    b1, b2 = betas
    step_size = learning_rate * np.sqrt(1 - b2 ** state.step) / (1 - b1 ** state.step)
    for (name, param), (_, grad), (_, m), (_, v) in zip(params.items(), grads.items(), state.m.items(),
                                                        state.v.items()):
        np.clip(grad, -clip, clip, out=grad)
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * grad * grad
        param -= step_size * m / (np.sqrt(v) + eps)
        if weight_decay and name in ("Wxh", "Whh", "Why"):
            param *= 1 - learning_rate * weight_decay


OPTIMIZERS = {"adagrad": (adagrad_update, RNNParams.zeros_like), "adam": (adam_update, AdamState.like)}


def optimizer_named(name):
    """-> (update function, state factory) of "adagrad" or "adam"; a clear error for anything else."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, not {name!r}")
    return OPTIMIZERS[name]


@dataclass
class TrainResult:
    params: RNNParams
    memory: object        # the optimiser's state: Adagrad's memory (RNNParams) or an AdamState
    iterations: int
    seconds: float
    chars_seen: int
    smooth_loss: float
    history: dict = field(default_factory=dict)   # "iteration", "seconds", "smooth_loss": lists
    samples: list = field(default_factory=list)   # (iteration, text) from the callback
    validation: "BestOnValidation | None" = None  # when train was given validation data: the early stopping

    @property
    def chars_per_second(self):
        return self.chars_seen / self.seconds if self.seconds else 0.0


class BestOnValidation:
    """Early stopping for a char-RNN: every ``every`` updates, score the model on held-back text and keep a copy
    of the best parameters; ``patience`` checks without a better score mean it has converged.

    data: int array of character indices the model does not train on (e.g. the last tenth of the play).
    """

    def __init__(self, data, every=500, patience=4):
        self.data, self.every, self.patience = np.asarray(data), every, patience
        self.best_ce, self.best_params, self.best_iteration = np.inf, None, 0
        self.history = {"iteration": [], "ce": []}

    def check(self, iteration, params):
        """-> True when training should stop (no better score for ``patience`` checks)."""
        if iteration % self.every:
            return False
        ce = cross_entropy(params.map(lambda a: a.astype(np.float64)), self.data)
        self.history["iteration"].append(iteration)
        self.history["ce"].append(ce)
        if ce < self.best_ce:
            self.best_ce, self.best_params, self.best_iteration = ce, params.map(np.copy), iteration
        return self.converged

    @property
    def converged(self):
        return self.patience is not None and bool(self.history["iteration"]) and \
            self.history["iteration"][-1] - self.best_iteration >= self.patience * self.every


def stream_starts(n_data, batch_size, seq_length):
    """Start offsets of B contiguous, equal segments of the data, and the segment length."""
    segment = n_data // batch_size
    if segment < seq_length + 2:
        raise ValueError(f"{n_data} characters are too few for {batch_size} streams of seq_length {seq_length}: "
                         "use fewer streams or a shorter seq_length")
    return np.arange(batch_size) * segment, segment


def keep_freed_memory():
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the system (Linux only).

    Each step allocates and frees arrays of a few MB (states, logits, gradients). By default glibc hands large
    freed blocks back to the kernel, and the next step pays a page fault for every 4 KiB it touches again: about
    30 % of a step at H=250 with 128 streams (``benchmarks/charlm_profile.py``). The process keeps its peak
    heap instead. -> True when the setting took effect (glibc), False elsewhere.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3                  # mallopt's parameter numbers (malloc.h)
        return bool(libc.mallopt(m_trim_threshold, 1 << 30) and libc.mallopt(m_mmap_threshold, 32 << 20))
    except (OSError, AttributeError):
        return False


def updates(data, params, memory, seq_length=25, batch_size=1, learning_rate=0.1, clip=5.0, method="fast",
            temperature=1.0, optimizer="adagrad", weight_decay=0.0, lr_halflife=None):
    """Endless training: each ``next()`` takes one optimiser step and yields ``(loss, h)``.

    data: int array of character indices, cut into ``batch_size`` streams (contiguous segments). Each step
    takes the next seq_length characters of every stream; a stream's hidden state h (hidden_size, B) is
    carried across chunks and reset to zero when it wraps to its start. ``optimizer``: "adagrad"
    (min-char-rnn's; ``memory`` is its RNNParams of squared-gradient sums) or "adam" (``memory`` an
    AdamState; ``weight_decay`` and ``lr_halflife`` are Adam's only). ``params`` and ``memory`` change in
    place. ``train`` bounds this by iterations; the learning-curve benchmark drives it by the clock.
    """
    update, _ = optimizer_named(optimizer)
    if (weight_decay or lr_halflife) and optimizer != "adam":
        raise ValueError("weight_decay and lr_halflife are Adam's; min-char-rnn's Adagrad has neither: "
                         "use optimizer='adam'")
    data = np.asarray(data)
    starts, segment = stream_starts(len(data), batch_size, seq_length)   # checked now, not at the first step
    keep_freed_memory()
    offsets = starts[None, :] + np.arange(seq_length)[:, None]           # (T, B)
    adam_only = dict(weight_decay=weight_decay, lr_halflife=lr_halflife) if optimizer == "adam" else {}
    step = functools.partial(update, learning_rate=learning_rate, clip=clip, **adam_only)
    return _steps(data, params, memory, offsets, segment, method, temperature, step)


def _steps(data, params, memory, offsets, segment, method, temperature, optimizer_step):
    seq_length, batch_size = offsets.shape
    h, p = None, 0
    while True:
        if h is None or p + seq_length + 1 >= segment:
            h, p = np.zeros((params.hidden_size, batch_size), params.Whh.dtype), 0   # back to the start
        inputs, targets = data[offsets + p], data[offsets + p + 1]
        if method == "fast":
            loss, grads, h = batch_loss_fun(params, inputs, targets, h, temperature)
        else:
            loss, grads, h = loss_fun(inputs[:, 0], targets[:, 0], h, params)
        optimizer_step(params, grads, memory)
        p += seq_length
        yield loss, h


def train(data: np.ndarray, vocab_size: int, settings: TrainSettings = TrainSettings(),
          iterations: Optional[int] = None, *, params: Optional[RNNParams] = None, memory: Any = None,
          validation: "Optional[BestOnValidation]" = None, callback: Optional[Callable] = None,
          sample_every: Optional[int] = None, log_every: int = 100, progress: bool = True) -> "TrainResult":
    """Train a character RNN, min-char-rnn style, as ``settings`` say, for at most ``iterations`` updates.

    data: (n,) int character indices. See ``updates`` for how the data is streamed. The smoothed loss starts at
    -log(1/V)*seq_length and follows 0.999*s + 0.001*loss. ``params`` / ``memory``: continue from these (the
    optimiser's state: Adagrad's memory or an AdamState). Every ``sample_every`` iterations
    ``callback(iteration, params, h, smooth_loss)`` runs (h: (hidden_size, batch_size)); a string it returns is
    kept in ``samples``. ``validation``: a ``BestOnValidation``; training then stops early when it says so, and
    ``params`` of the result are the best ones it kept (the last ones are not returned).
    """
    if iterations is None:
        raise ValueError("give iterations=: training is bounded by updates, never unbounded or by seconds")
    s = settings
    seed, dtype, batch_size, seq_length = s.seed, s.dtype, s.batch_size, s.seq_length
    rng = np.random.default_rng(seed)
    if params is None:
        params = RNNParams.init(vocab_size, s.hidden_size, vocab_size, rng, dtype=dtype)
    if params.input_size != vocab_size or params.output_size != vocab_size:
        raise ValueError(f"params are for {params.input_size} characters, the data has {vocab_size}: "
                         "start from fresh params or load the vocabulary they were trained on")
    memory = optimizer_named(s.optimizer)[1](params) if memory is None else memory
    steps = updates(data, params, memory, seq_length, batch_size, s.learning_rate, s.clip, s.method, s.temperature,
                    s.optimizer, s.weight_decay, s.lr_halflife)
    smooth = -np.log(1.0 / vocab_size) * seq_length
    history = {"iteration": [], "seconds": [], "smooth_loss": []}
    samples = []
    n = 0
    bar = tqdm(total=iterations, disable=not progress, desc="training", unit="it", mininterval=1.0)
    start = time.perf_counter()
    with threadpool_limits(s.threads):
        while n < iterations:
            loss, h = next(steps)
            smooth = smooth * 0.999 + loss * 0.001
            n += 1
            if n % log_every == 0 or n == 1:
                history["iteration"].append(n)
                history["seconds"].append(time.perf_counter() - start)
                history["smooth_loss"].append(float(smooth))
                bar.set_postfix(smooth_loss=f"{smooth:.2f}", refresh=False)
            if callback is not None and sample_every and (n % sample_every == 0 or n == 1):
                out = callback(n, params, h, smooth)
                if isinstance(out, str):
                    samples.append((n, out))
            bar.update()
            if validation is not None and validation.check(n, params):
                break
    bar.close()
    seconds = time.perf_counter() - start
    if validation is not None and validation.best_params is not None:
        params = validation.best_params
    return TrainResult(params, memory, n, seconds, n * seq_length * batch_size, float(smooth), history, samples,
                       validation)


def hidden_states(params: RNNParams, data: np.ndarray, h: Optional[np.ndarray] = None) -> np.ndarray:
    """Run the RNN over data (ints) from h (zeros) without sampling. -> states (len(data), hidden_size)."""
    H = params.hidden_size
    h = np.zeros(H) if h is None else np.asarray(h, dtype=np.float64).ravel()
    x_part = (params.Wxh.T + params.bh.T)[np.asarray(data)]
    states = np.empty((len(data), H))
    WhhT = params.Whh.T
    for t in range(len(data)):
        h = np.tanh(x_part[t] + h @ WhhT)
        states[t] = h
    return states


def cross_entropy(params: RNNParams, data: np.ndarray, h: Optional[np.ndarray] = None,
                  temperature: float = 1.0) -> float:
    """Mean per-character cross-entropy (nats) of predicting data[1:] from data[:-1], one stream from h (zeros).

    temperature divides the logits first. -> nats per character (divide by log 2 for bits)
    """
    data = np.asarray(data)
    if len(data) < 2:
        raise ValueError("need at least two characters to evaluate")
    states = hidden_states(params, data[:-1], h)
    total = 0.0
    for chunk in range(0, len(states), 8192):     # logits in chunks keep memory small
        logits = (states[chunk:chunk + 8192] @ params.Why.T + params.by.ravel()) / temperature
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        total -= log_p[np.arange(len(logits)), data[1 + chunk:1 + chunk + len(logits)]].sum()
    return total / (len(data) - 1)


def unigram_cross_entropy(train_data: np.ndarray, test_data: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy (nats/char) of the character frequencies of train_data on test_data (add-one smoothing)."""
    counts = np.bincount(train_data, minlength=vocab_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(-log_p[np.asarray(test_data)].mean())


def read_learning_curves():
    """The learning curves measured by benchmarks/charlm_learning.py -> list of dicts with typed values:
    condition ("quiet"/"loaded"), seconds, min_char_rnn_updates, min_char_rnn_ce, labutils_updates, labutils_ce,
    margin (min-char-rnn's cross-entropy minus labutils'), commit, machine."""
    from labutils.results import read_measured
    types = {"seconds": float, "min_char_rnn_updates": int, "labutils_updates": int, "min_char_rnn_ce": float,
             "labutils_ce": float, "margin": float}
    return read_measured("charlm_learning.csv", types, "python benchmarks/charlm_learning.py (about 13 minutes)")
