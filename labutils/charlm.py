"""Character-level language model training with min-char-rnn semantics.

Two ways to compute one chunk's loss and gradients:
  * ``loss_fun``: the reference, as in min-char-rnn: one-hot column vectors, one matrix product per step;
  * ``batch_loss_fun``: the fast path: index lookups (``Wxh[:, ix]``) instead of one-hot products, states
    stacked so each weight gradient is one matrix product, and B independent streams at once.
With B = 1 both give the same loss and gradients (to rounding). Training, Adagrad with element-wise
clipping, and held-out evaluation are here too. Layout as in ``labutils.rnn`` (columns are examples).
"""
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from labutils.rnn import RNNParams, softmax


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
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1
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
class TrainResult:
    params: RNNParams
    memory: RNNParams
    iterations: int
    seconds: float
    chars_seen: int
    smooth_loss: float
    history: dict = field(default_factory=dict)   # "iteration", "seconds", "smooth_loss": lists
    samples: list = field(default_factory=list)   # (iteration, text) from the callback

    @property
    def chars_per_second(self):
        return self.chars_seen / self.seconds if self.seconds else 0.0


def stream_starts(n_data, batch_size, seq_length):
    """Start offsets of B contiguous, equal segments of the data, and the segment length."""
    segment = n_data // batch_size
    if segment < seq_length + 2:
        raise ValueError(f"{n_data} characters are too few for {batch_size} streams of seq_length {seq_length}: "
                         "use fewer streams or a shorter seq_length")
    return np.arange(batch_size) * segment, segment


def train(data, vocab_size, hidden_size=100, seq_length=25, learning_rate=0.1, clip=5.0, batch_size=1,
          iterations=None, time_budget=None, params=None, memory=None, seed=0, dtype=np.float64,
          method="fast", sample_every=None, callback=None, log_every=100, progress=True, temperature=1.0):
    """Train a character RNN with Adagrad, min-char-rnn style, bounded by ``iterations`` and/or seconds.

    data: int array of character indices. Each iteration takes the next seq_length characters of each of
    ``batch_size`` streams (contiguous segments of the data); a stream's hidden state is carried across
    chunks and reset to zero when it wraps to its start. The smoothed loss starts at -log(1/V)*seq_length
    and follows 0.999*s + 0.001*loss. ``method`` is "fast" (``batch_loss_fun``) or "reference"
    (``loss_fun``, batch_size 1 only). Every ``sample_every`` iterations ``callback(iteration, params, h,
    smooth_loss)`` runs (h: (hidden_size, batch_size)); a string it returns is kept in ``samples``.
    ``temperature`` != 1 trains through softmax(logits / temperature) (fast method only).
    """
    if iterations is None and time_budget is None:
        raise ValueError("give iterations= or time_budget= (seconds): training never runs unbounded")
    if method not in ("fast", "reference"):
        raise ValueError(f"method must be 'fast' or 'reference', not {method!r}")
    if method == "reference" and (batch_size != 1 or temperature != 1.0):
        raise ValueError("the reference loss handles one stream at temperature 1: use method='fast'")
    data = np.asarray(data)
    rng = np.random.default_rng(seed)
    if params is None:
        params = RNNParams.init(vocab_size, hidden_size, vocab_size, rng, dtype=dtype)
    if params.input_size != vocab_size or params.output_size != vocab_size:
        raise ValueError(f"params are for {params.input_size} characters, the data has {vocab_size}: "
                         "start from fresh params or load the vocabulary they were trained on")
    memory = params.zeros_like() if memory is None else memory
    starts, segment = stream_starts(len(data), batch_size, seq_length)
    H = params.hidden_size
    smooth = -np.log(1.0 / vocab_size) * seq_length
    history = {"iteration": [], "seconds": [], "smooth_loss": []}
    samples = []
    p, h, n = 0, None, 0
    total = iterations if iterations is not None else None
    bar = tqdm(total=total, disable=not progress, desc="training", unit="it", mininterval=1.0)
    start = time.perf_counter()
    while (iterations is None or n < iterations) and (time_budget is None or time.perf_counter() - start < time_budget):
        if h is None or p + seq_length + 1 >= segment:
            h, p = np.zeros((H, batch_size), params.Whh.dtype), 0   # reset at the start of the data
        idx = starts[None, :] + p + np.arange(seq_length)[:, None]   # (T, B)
        inputs, targets = data[idx], data[idx + 1]
        if method == "fast":
            loss, grads, h = batch_loss_fun(params, inputs, targets, h, temperature)
        else:
            loss, grads, h = loss_fun(inputs[:, 0], targets[:, 0], h, params)
        smooth = smooth * 0.999 + loss * 0.001
        adagrad_update(params, grads, memory, learning_rate, clip)
        p += seq_length
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
    bar.close()
    seconds = time.perf_counter() - start
    return TrainResult(params, memory, n, seconds, n * seq_length * batch_size, float(smooth), history, samples)


def hidden_states(params, data, h=None):
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


def cross_entropy(params, data, h=None, temperature=1.0):
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


def unigram_cross_entropy(train_data, test_data, vocab_size):
    """Cross-entropy (nats/char) of the character frequencies of train_data on test_data (add-one smoothing)."""
    counts = np.bincount(train_data, minlength=vocab_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(-log_p[np.asarray(test_data)].mean())
