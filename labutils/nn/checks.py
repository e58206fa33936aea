"""Student-facing checks for the PyTorch notebooks (torch is imported here, never in labutils.checks).

Each is a ``Check`` (``labutils.checkspec``): cases and verdicts in plain arrays, the student's code only in
the probe. Where a check needs a model, the case carries its weights and the probe builds the labutils
architecture from them; checks that train return the trained weights, and ``verify`` evaluates them itself.
"""
import numpy as np
import torch
from torch import nn

from labutils.checkspec import Check, expect_array, expect_tuple, kind, lazy, run_check
from labutils.nn.sentiment import SentimentRNN


def _t(a, dtype=None):
    """A tensor from a case's array (a copy: the student's code may modify it in place)."""
    return torch.tensor(np.array(a), dtype=dtype)


def _state(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _load(module, state):
    module.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in state.items()})
    return module


def _state_of(got, what):
    if not isinstance(got, dict) or not all(isinstance(v, np.ndarray) for v in got.values()):
        raise AssertionError(f"{what} should be a module's weights, not {kind(got)}")
    return got


# ---- notebook 05: sentiment ---------------------------------------------------------------------------

def _tiny_batch(seed=0):
    from labutils.nn.sentiment import pad_batch
    rng = np.random.default_rng(seed)
    ids, lengths = pad_batch([rng.integers(2, 30, n) for n in (7, 3, 1, 5)])
    return ids.numpy(), lengths.numpy()


def _sentiment_cases(seed):
    ids, lengths = _tiny_batch(seed)
    return [dict(cell=cell, seed=seed, ids=ids, lengths=lengths) for cell in ("rnn", "lstm")]


def _probe_sentiment(fns, case):
    torch.manual_seed(case["seed"])
    mine = fns["SimpleSentimentRNN"](30, 6, 5, case["cell"])
    with torch.no_grad():
        out = mine(_t(case["ids"]), _t(case["lengths"]))
    return {"out": out, "embedding": mine.embedding.state_dict(), "rnn": mine.rnn.state_dict(),
            "head": mine.head.state_dict()}


def _verify_sentiment(case, got):
    ref = SentimentRNN(30, 6, 5, case["cell"])
    try:
        _load(ref.embedding, _state_of(got["embedding"], "self.embedding"))
        _load(ref.forward_layers[0], _state_of(got["rnn"], "self.rnn"))
        _load(ref.head, _state_of(got["head"], "self.head"))
    except RuntimeError as err:
        raise AssertionError("keep the layers of the skeleton (self.embedding, self.rnn with batch_first=True, "
                             f"self.head = nn.Linear(hidden_size, 1)): {str(err)[:300]}") from None
    ids, lengths = _t(case["ids"]), _t(case["lengths"])
    with torch.no_grad():
        expected = ref(ids, lengths)
        padded_last = ref.head(ref.forward_layers[0](ref.embedding(ids))[0][:, -1]).squeeze(1)
    out = torch.as_tensor(expect_array(got["out"], "the logits"))
    if tuple(out.shape) != (4,):
        raise AssertionError(f"forward must return one logit per review, shape (4,), not {tuple(out.shape)}: "
                             "squeeze the last dimension of the Linear layer's output")
    if torch.allclose(out, padded_last, atol=1e-6) and not torch.allclose(out, expected, atol=1e-5):
        raise AssertionError("forward reads the output at the last *padded* position: gather the output at "
                             "position lengths - 1 of each review instead")
    err = (out - expected).abs().max().item()
    if not err <= 1e-5:
        raise AssertionError(f"{case['cell']}: logits differ from the reference by up to {err:.2e}: embedding -> "
                             "self.rnn (batch_first) -> the output at position lengths-1 -> self.head")


SENTIMENT_FORWARD = Check(
    "check_sentiment_forward", ("SimpleSentimentRNN",), _sentiment_cases,
    probe=_probe_sentiment, verify=_verify_sentiment,
    passed="forward OK: one logit per review, read at each review's last real token (rnn and lstm)")


def check_sentiment_forward(model_class, seed=0):
    """model_class(vocab_size, embed_dim, hidden_size, cell) with .embedding, .rnn, .head and forward(ids, lengths)."""
    run_check(SENTIMENT_FORWARD, [model_class], seed)


OVERFIT_MODEL = dict(vocab_size=40, embed_dim=16, hidden_size=32, cell="lstm")


def _overfit_cases(seed, n=40, epochs=40):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 60, n)
    ids = np.zeros((n, lengths.max()), dtype=np.int64)
    for i, length in enumerate(lengths):
        ids[i, :length] = rng.integers(2, OVERFIT_MODEL["vocab_size"], length)
    labels = rng.permutation(np.arange(n) % 2).astype(np.float32)      # random labels: learning means memorising
    return [dict(ids=ids, lengths=lengths, labels=labels, seed=seed, epochs=epochs, lr=1e-2)]


def _reviews(case):
    return [np.array(row[:length]) for row, length in zip(case["ids"], case["lengths"])]


def _probe_overfit(fns, case):
    from labutils.nn.sentiment import batches, predict
    torch.manual_seed(case["seed"])
    model = SentimentRNN(**OVERFIT_MODEL)
    optimizer = torch.optim.Adam(model.parameters(), lr=case["lr"])
    reviews, labels = _reviews(case), np.array(case["labels"])
    rng, losses = np.random.default_rng(case["seed"]), []
    for _ in range(case["epochs"]):
        losses.append(float(fns["train_one_epoch"](model, list(batches(reviews, labels, 8, rng, shuffle=True)),
                                                   optimizer, nn.BCEWithLogitsLoss())))
        if np.all((predict(model, reviews) > 0.5) == labels):
            break
    return {"weights": model.state_dict(), "losses": losses}


def _verify_overfit(case, got):
    from labutils.nn.sentiment import predict
    model = SentimentRNN(**OVERFIT_MODEL)
    try:
        _load(model, _state_of(got["weights"], "the trained weights"))
    except RuntimeError as err:
        raise AssertionError(f"the trained model's weights don't fit its architecture: {str(err)[:300]}") from None
    accuracy = float(np.mean((predict(model, _reviews(case)) > 0.5) == case["labels"]))
    losses = [float(x) for x in got["losses"]]
    if not accuracy == 1.0:
        trend = f" (loss {losses[0]:.3f} -> {losses[-1]:.3f})" if losses else ""
        raise AssertionError(f"after {len(losses)} epochs on {len(case['labels'])} reviews, training accuracy is "
                             f"{accuracy:.0%}{trend}; a correct loop reaches 100 %: check zero_grad, backward and "
                             "optimizer.step, and that the loss uses the labels as floats")


OVERFIT = Check(
    "check_overfit", ("train_one_epoch",), _overfit_cases, probe=_probe_overfit, verify=_verify_overfit,
    passed="overfit OK: your training loop drives 40 reviews with random labels to 100 % training accuracy")


def check_overfit(train_one_epoch, seed=0):
    """A few dozen short reviews with random labels must reach 100 % training accuracy: the loop can learn at all."""
    run_check(OVERFIT, [train_one_epoch], seed)


# ---- notebook 06: the LSTM cell -----------------------------------------------------------------------

LSTM_ARGS = ("x", "h", "c", "weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _lstm_cases(seed):
    cases = []
    for B, d, n in [(3, 4, 5), (1, 1, 1), (2, 10, 8)]:
        torch.manual_seed(seed + B + d + n)
        ref = nn.LSTMCell(d, n)
        x, h, c = torch.randn(B, d), torch.randn(B, n), torch.randn(B, n)
        cases.append(dict(x=x.numpy(), h=h.numpy(), c=c.numpy(), **_state(ref)))
    return cases


def _probe_lstm_cell(fns, case):
    with torch.no_grad():
        return fns["lstm_cell"](*(_t(case[k]) for k in LSTM_ARGS))


def _verify_lstm_cell(case, got):
    got = expect_tuple(got, 2, "a tuple (h_new, c_new)")
    d, n = case["weight_ih"].shape[1], case["weight_hh"].shape[1]
    ref = _load(nn.LSTMCell(d, n), {k: case[k] for k in LSTM_ARGS[3:]})
    with torch.no_grad():
        h_ref, c_ref = ref(_t(case["x"]), (_t(case["h"]), _t(case["c"])))
    for name, mine, expected in (("c_new", got[1], c_ref), ("h_new", got[0], h_ref)):
        mine = torch.as_tensor(expect_array(mine, name))
        if tuple(mine.shape) != tuple(expected.shape):
            raise AssertionError(f"{name} has shape {tuple(mine.shape)}, expected {tuple(expected.shape)}")
        err = (mine - expected).abs().max().item()
        if not err < 1e-6:
            if name == "c_new":
                _forget_bias_diagnosis(case, mine)
            hint = ("c_new = f * c + i * g, with sigmoid on i and f and tanh on g; the gates come in the order "
                    "i, f, g, o (chunk(4, dim=1))" if name == "c_new" else "h_new = o * tanh(c_new), sigmoid on o")
            raise AssertionError(f"{name} differs from nn.LSTMCell by up to {err:.2e} (must be < 1e-6): {hint}")


def _forget_bias_diagnosis(case, c_mine):
    """AssertionError if c_new is right but for a forget-gate bias that ignores the given biases (a constant)."""
    x, h, c = _t(case["x"]), _t(case["h"]), _t(case["c"])
    gates = x @ _t(case["weight_ih"]).T + h @ _t(case["weight_hh"]).T                  # without the biases
    i, f, g, _ = gates.chunk(4, dim=1)
    bias_i, bias_f, bias_g, _ = (_t(case["bias_ih"]) + _t(case["bias_hh"])).chunk(4)
    ig = torch.sigmoid(i + bias_i) * torch.tanh(g + bias_g)
    usable = c.abs() > 0.2
    if usable.sum() < 2:
        return
    f_mine = ((c_mine - ig) / c)[usable]
    if not bool(((f_mine > 1e-4) & (f_mine < 1 - 1e-4)).all()):
        return
    implied = torch.logit(f_mine) - f[usable]                       # the forget bias the student's c_new implies
    given = bias_f.expand_as(f)[usable]
    if implied.std() < 1e-3 and (implied - given).abs().max() > 1e-3:
        raise AssertionError(f"c_new uses a forget-gate bias of {implied.mean().item():.3g} for every unit instead of "
                             "bias_ih + bias_hh: take the forget gate's bias from the biases you are given (their "
                             "second quarter), don't hard-code it; notebook 06 sets the forget bias when it builds "
                             "the model, not in the cell")


LSTM_CELL = Check(
    "check_lstm_cell", ("lstm_cell",), _lstm_cases, probe=_probe_lstm_cell, verify=_verify_lstm_cell,
    passed="lstm_cell OK: matches nn.LSTMCell with copied weights (max abs difference < 1e-6) on 3 sizes")


def check_lstm_cell(fn, seed=0):
    """fn(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h, c), against nn.LSTMCell with the same weights."""
    run_check(LSTM_CELL, [fn], seed)


def _param_count_cases(seed):
    sizes = [(10, 128), (1, 1), (50, 64), (3, 7)]
    rng = np.random.default_rng(seed)
    sizes += [(int(d), int(n)) for d, n in rng.integers(1, 300, (2, 2))]
    return [{"d": d, "n": n} for d, n in sizes]


def _verify_param_count(case, got):
    d, n = case["d"], case["n"]
    torch_count = sum(p.numel() for p in nn.LSTM(d, n).parameters())
    if got != 4 * (d * n + n * n + n):
        raise AssertionError(f"lstm_param_count({d}, {n}) = {got}; count, for each of the 4 gates, the input "
                             f"weights (d x n), the recurrent weights (n x n) and one bias (n)")
    assert torch_count - got == 4 * n, "PyTorch keeps two bias vectors per gate (b_ih and b_hh)"


LSTM_PARAM_COUNT = Check(
    "check_lstm_param_count", ("lstm_param_count",), _param_count_cases,
    probe=lambda fns, case: fns["lstm_param_count"](case["d"], case["n"]), verify=_verify_param_count,
    passed="lstm_param_count OK: 4(dn + n^2 + n); PyTorch's count is 4n larger (two bias vectors, b_ih and b_hh)")


def check_lstm_param_count(fn, seed=0):
    """fn(d, n) -> parameters of one LSTM layer with one bias vector per gate: 4(dn + n^2 + n)."""
    run_check(LSTM_PARAM_COUNT, [fn], seed)


# ---- notebook 08: the Phased LSTM ---------------------------------------------------------------------

# (t, tau, shift, r_on, alpha) -> k, worked by hand; notebook 08 prints this table
TIME_GATE_CASES = [
    ((0.0, 10.0, 0.0, 0.2, 0.01), 0.0, "phase 0: the gate starts to open"),
    ((0.5, 10.0, 0.0, 0.2, 0.01), 0.5, "phase 0.05, halfway up the rising half (r_on/2 = 0.1): 2 * 0.05 / 0.2"),
    ((1.0, 10.0, 0.0, 0.2, 0.01), 1.0, "phase 0.1 = r_on/2: fully open"),
    ((1.5, 10.0, 0.0, 0.2, 0.01), 0.5, "phase 0.15, falling half: 2 - 2 * 0.15 / 0.2"),
    ((5.0, 10.0, 0.0, 0.2, 0.01), 0.005, "phase 0.5, closed: leak alpha * phase = 0.01 * 0.5"),
    ((10.5, 10.0, 0.0, 0.2, 0.01), 0.5, "t = 10.5 is phase 0.05 of the second period"),
    ((3.0, 10.0, 2.0, 0.2, 0.01), 1.0, "shift 2 moves the cycle: phase (3 - 2) / 10 = 0.1, fully open"),
    ((1.0, 10.0, 2.0, 0.2, 0.01), 0.009, "t < shift: phase ((1 - 2) mod 10) / 10 = 0.9, closed"),
]


def _time_gate_cases(seed):
    cases = [dict(t=np.array([a[0]]), tau=a[1], shift=a[2], r_on=a[3], alpha=a[4], expected=k, why=why)
             for a, k, why in TIME_GATE_CASES]
    rng = np.random.default_rng(seed)
    cases.append(dict(t=rng.uniform(-50, 200, (6, 1)), tau=np.exp(rng.uniform(0, 4, 5)), shift=rng.uniform(0, 20, 5),
                      r_on=0.1, alpha=1e-3))
    return cases


def _probe_time_gate(fns, case):
    return fns["time_gate"](*(np.array(case[k]) if isinstance(case[k], np.ndarray) else case[k]
                              for k in ("t", "tau", "shift", "r_on", "alpha")))


def _verify_time_gate(case, got):
    from labutils.nn.phased import time_gate
    got = expect_array(got, "k")
    if "expected" in case:
        t, tau, shift, r_on, alpha = float(case["t"][0]), case["tau"], case["shift"], case["r_on"], case["alpha"]
        value = float(got.reshape(-1)[0]) if got.size else float("nan")
        if not abs(value - case["expected"]) < 1e-9:
            hint = ("the phase must lie in [0, 1): np.mod of a negative number by a positive period is positive"
                    if t < shift else "")
            raise AssertionError(f"time_gate(t={t}, tau={tau}, s={shift}, r_on={r_on}, alpha={alpha}) = "
                                 f"{value:.6g}, expected {case['expected']:g} ({case['why']}). {hint}".strip())
        return
    expected = time_gate(case["t"], case["tau"], case["shift"], case["r_on"], case["alpha"])
    if got.shape != expected.shape:
        raise AssertionError(f"t (6, 1) with tau and shift (5,) must broadcast to (6, 5), got {got.shape}: "
                             "use element-wise NumPy operations (np.mod, np.where), not Python if/else")
    err = np.abs(got - expected).max()
    if not err <= 1e-9:
        raise AssertionError(f"on random inputs the gate differs from the reference by up to {err:.2e}")


TIME_GATE = Check(
    "check_time_gate", ("time_gate",), _time_gate_cases, probe=_probe_time_gate, verify=_verify_time_gate,
    passed=f"time_gate OK: {len(TIME_GATE_CASES)} hand-worked cases and 30 random (t, tau, s) broadcast cases")


def check_time_gate(fn, seed=0):
    """fn(t, tau, shift, r_on, alpha) -> k, NumPy, element-wise with broadcasting."""
    run_check(TIME_GATE, [fn], seed)


PHASED_CELL = dict(input_size=3, hidden_size=6, tau_range=(2.0, 20.0), r_on=0.3)


def _phased_cases(seed):
    from labutils.nn.phased import PhasedLSTMCell
    torch.manual_seed(seed)
    cell = PhasedLSTMCell(**PHASED_CELL)
    x, h, c = torch.randn(4, 3), torch.randn(4, 6), torch.randn(4, 6)
    return [dict(cell=_state(cell), x=x.numpy(), t=np.array([0.5, 3.0, 7.5, 12.0], dtype=np.float32),
                 h=h.numpy(), c=c.numpy())]


def _phased_cell(case):
    from labutils.nn.phased import PhasedLSTMCell
    return _load(PhasedLSTMCell(**PHASED_CELL), case["cell"])


def _probe_phased(fns, case):
    with torch.no_grad():
        return fns["phased_lstm_step"](_t(case["x"]), _t(case["t"]), _t(case["h"]), _t(case["c"]), _phased_cell(case))


def _verify_phased(case, got):
    from labutils.nn.phased import phased_lstm_step
    got = expect_tuple(got, 3, "a tuple (h_new, c_new, k)")
    h, c = _t(case["h"]), _t(case["c"])
    with torch.no_grad():
        expected = phased_lstm_step(_t(case["x"]), _t(case["t"]), h, c, _phased_cell(case))
    got = [torch.as_tensor(expect_array(g, name)) for g, name in zip(got, ("h_new", "c_new", "k"))]
    for name, mine, ref in zip(("h_new", "c_new", "k"), got, expected):
        if tuple(mine.shape) != tuple(ref.shape):
            raise AssertionError(f"{name} has shape {tuple(mine.shape)}, expected {tuple(ref.shape)} (B, n): "
                                 "the gate of unit j at time t[b] is k[b, j]; t[:, None] broadcasts against tau")
    k = expected[2]
    if not torch.allclose(got[2], k, atol=1e-6):
        err = (got[2] - k).abs().max().item()
        raise AssertionError(f"k differs from the reference by up to {err:.2e}: time_gate(t[:, None], cell.tau, "
                             "cell.shift, cell.r_on, cell.alpha)")
    for name, mine, ref, old in (("c_new", got[1], expected[1], c), ("h_new", got[0], expected[0], h)):
        if torch.allclose(mine, (1 - k) * (ref - (1 - k) * old) / k.clamp_min(1e-12) + k * old, atol=1e-5):
            raise AssertionError(f"{name}: k and 1 - k are swapped: the *new* value passes where the gate is open")
        if not torch.allclose(mine, ref, atol=1e-5):
            err = (mine - ref).abs().max().item()
            raise AssertionError(f"{name} differs from the reference by up to {err:.2e}: {name} = k * proposal "
                                 "+ (1 - k) * old value, the proposal from lstm_cell_step with cell.cell's weights")


def _phased_references():
    from labutils.nn.phased import time_gate
    return {"time_gate": time_gate}


PHASED_LSTM_STEP = Check(
    "check_phased_lstm_step", ("phased_lstm_step",), _phased_cases, probe=_probe_phased, verify=_verify_phased,
    references=_phased_references, reference=lazy("labutils.nn.phased:phased_lstm_step"),
    passed="phased_lstm_step OK: h, c and k match the reference (4 sequences, 6 units)")


def check_phased_lstm_step(fn, seed=0):
    """fn(x, t, h, c, cell) -> (h_new, c_new, k), against the reference on a PhasedLSTMCell."""
    run_check(PHASED_LSTM_STEP, [fn], seed)


# ---- notebook 09: captioning ----------------------------------------------------------------------------

def _loss_cases(seed):
    g = torch.Generator().manual_seed(seed)
    cases = []
    for N, T, V in [(3, 5, 7), (1, 1, 2), (10, 8, 4)]:
        scores = torch.randn(N, T, V, generator=g, dtype=torch.float64)
        targets = torch.randint(0, V, (N, T), generator=g)
        mask = torch.rand(N, T, generator=g) > 0.3
        mask[0, 0] = True
        cases.append(dict(scores=scores.numpy(), targets=targets.numpy(), mask=mask.numpy(), gradient=N == 10))
    return cases


def _probe_loss(fns, case):
    scores = _t(case["scores"]).requires_grad_(case["gradient"])
    loss = fns["temporal_softmax_loss"](scores, _t(case["targets"]), _t(case["mask"]))
    if not case["gradient"]:
        return {"loss": loss}
    loss.backward()
    return {"loss": loss, "grad": scores.grad}


def _verify_loss(case, got):
    from labutils.nn.captioning import temporal_softmax_loss
    scores, targets, mask = _t(case["scores"]), _t(case["targets"]), _t(case["mask"])
    N, T, V = scores.shape
    loss = torch.as_tensor(expect_array(got["loss"], "the loss"), dtype=torch.float64)
    expected = temporal_softmax_loss(scores, targets, mask)
    if loss.dim() != 0:
        raise AssertionError(f"return one number (a 0-d tensor), not shape {tuple(loss.shape)}")
    if torch.isclose(loss, temporal_softmax_loss(scores, targets, torch.ones_like(mask)), rtol=1e-9) and \
            not mask.all() and not torch.isclose(loss, expected, rtol=1e-9):
        raise AssertionError("the loss counts the padded steps: multiply each step's loss by the mask")
    n_real = mask.sum()
    if torch.isclose(loss, expected * N / n_real, rtol=1e-9) and N != n_real:
        raise AssertionError("the loss is divided by the number of real words; CS231n's convention divides by "
                             f"the batch size N: sum over time, average over captions (here N = {N})")
    if not torch.isclose(loss, expected, rtol=1e-7):
        raise AssertionError(f"loss {loss.item():.6f}, expected {expected.item():.6f} for N, T, V = {N}, {T}, {V}: "
                             "-log softmax(scores)[target], times the mask, summed, divided by N")
    if case["gradient"]:
        grad = got.get("grad")
        if grad is None:
            raise AssertionError("no gradient reached the scores: build the loss from torch operations on scores")
        grad = torch.as_tensor(expect_array(grad, "the gradient"))
        if tuple(grad.shape) != tuple(scores.shape) or grad[~mask].abs().max() > 0:
            raise AssertionError("no gradient may reach the scores at masked steps (and some must reach the rest): "
                                 "build the loss from torch operations on scores")


TEMPORAL_SOFTMAX_LOSS = Check(
    "check_temporal_softmax_loss", ("temporal_softmax_loss",), _loss_cases, probe=_probe_loss, verify=_verify_loss,
    passed="temporal_softmax_loss OK: matches the reference on 3 shapes; padded steps get no loss and no gradient")


CAPTION_WORDS = ["a b c d e f"]
CAPTIONER = dict(cell="lstm", embed_dim=8, hidden_size=16)


def _captioner(state=None):
    from labutils.data.captions import CaptionVocab
    from labutils.nn.captioning import Captioner
    vocab = CaptionVocab.build(CAPTION_WORDS)
    model = Captioner(len(vocab), encoder=nn.Linear(5, 16), **CAPTIONER)
    return (model if state is None else _load(model, state)), vocab


def _decode_cases(seed):
    from labutils.data.captions import END, NULL
    torch.manual_seed(0)
    model, vocab = _captioner()
    with torch.no_grad():                           # (seed 0) some captions end at steps 0-2, the rest run to 9
        model.head.weight.mul_(4)
        model.head.bias[vocab[END]] += 0.2
        model.head.bias[vocab[NULL]] -= 5           # a trained model never predicts <NULL>
    images = 3 * torch.randn(12, 5, generator=torch.Generator().manual_seed(seed))
    return [dict(model=_state(model), images=images.numpy(), max_length=9)]


def _probe_decode(fns, case):
    model, vocab = _captioner(case["model"])
    with torch.no_grad():
        return fns["greedy_decode"](model, _t(case["images"]), vocab, case["max_length"])


def _verify_decode(case, got):
    from labutils.data.captions import END
    from labutils.nn.captioning import decode
    model, vocab = _captioner(case["model"])
    expected = decode(model, _t(case["images"]), vocab, max_length=case["max_length"])
    got = torch.as_tensor(expect_array(got, "the captions"))
    if tuple(got.shape) != (12, 9):
        raise AssertionError(f"return (N, max_length) = (12, 9) word ids, not {tuple(got.shape)}; "
                             "the output does not include <START>")
    bad = (got != expected).any(dim=1).nonzero()[:, 0].tolist()
    if bad:
        i = bad[0]
        first = int((got[i] != expected[i]).nonzero()[0, 0])
        hint = ("after <END>, fill with <NULL> (id 0)" if vocab[END] in expected[i, :first].tolist()
                else "feed the previous step's argmax word back in; start from <START> and model.init_state(images)")
        raise AssertionError(f"{len(bad)} of 12 captions differ from the reference; caption {i} first at step {first}: "
                             f"got {got[i].tolist()}, expected {expected[i].tolist()}. {hint}")


GREEDY_DECODE = Check(
    "check_greedy_decode", ("greedy_decode",), _decode_cases, probe=_probe_decode, verify=_verify_decode,
    passed="greedy_decode OK: 12 captions match the reference word for word, <NULL> after <END>")


def check_temporal_softmax_loss(fn, seed=0):
    """fn(scores (N, T, V), targets (N, T), mask (N, T)) -> scalar: masked cross-entropy summed over time / N."""
    run_check(TEMPORAL_SOFTMAX_LOSS, [fn], seed)


def check_greedy_decode(fn, seed=0):
    """fn(model, images, vocab, max_length) -> (N, max_length) word ids, against labutils' greedy decoder."""
    run_check(GREEDY_DECODE, [fn], seed)


CHECKS = {c.grade_id: c for c in (SENTIMENT_FORWARD, OVERFIT, LSTM_CELL, LSTM_PARAM_COUNT, TIME_GATE,
                                  PHASED_LSTM_STEP, TEMPORAL_SOFTMAX_LOSS, GREEDY_DECODE)}
