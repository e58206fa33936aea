"""Student-facing checks for the PyTorch notebooks (torch is imported here, never in labutils.checks)."""
import numpy as np
import torch
from torch import nn

from labutils.checks import _call
from labutils.nn.models import SentimentRNN
from labutils.nn.text import pad_batch


def _tiny_batch(seed=0):
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(2, 30, n) for n in (7, 3, 1, 5)]
    return pad_batch(seqs)


def check_sentiment_forward(model_class, seed=0):
    """model_class(vocab_size, embed_dim, hidden_size, cell) with .embedding, .rnn, .head and forward(ids, lengths)."""
    for cell in ("rnn", "lstm"):
        torch.manual_seed(seed)
        mine = model_class(30, 6, 5, cell)
        ref = SentimentRNN(30, 6, 5, cell)
        ref.embedding.load_state_dict(mine.embedding.state_dict())
        ref.forward_layers[0].load_state_dict(mine.rnn.state_dict())
        ref.head.load_state_dict(mine.head.state_dict())
        ids, lengths = _tiny_batch(seed)
        with torch.no_grad():
            out = _call(mine.forward, ids, lengths)
            expected = ref(ids, lengths)
        if tuple(out.shape) != (4,):
            raise AssertionError(f"forward must return one logit per review, shape (4,), not {tuple(out.shape)}: "
                                 "squeeze the last dimension of the Linear layer's output")
        with torch.no_grad():
            padded_last = mine.head(mine.rnn(mine.embedding(ids))[0][:, -1]).squeeze(1)
        if torch.allclose(out, padded_last, atol=1e-6) and not torch.allclose(out, expected, atol=1e-5):
            raise AssertionError("forward reads the output at the last *padded* position: gather the output at "
                                 "position lengths - 1 of each review instead")
        err = (out - expected).abs().max().item()
        if err > 1e-5:
            raise AssertionError(f"{cell}: logits differ from the reference by up to {err:.2e}: embedding -> "
                                 "self.rnn (batch_first) -> the output at position lengths-1 -> self.head")
    print("forward OK: one logit per review, read at each review's last real token (rnn and lstm)")


def check_overfit(model, train_one_epoch, ids, labels, epochs=40, lr=1e-2):
    """A few dozen reviews must reach 100 % training accuracy: the model and the loop can learn at all."""
    from labutils.nn.train import batches, predict
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(epochs):
        losses.append(float(_call(train_one_epoch, model, list(batches(ids, labels, 8, rng, shuffle=True)),
                                  optimizer, loss_fn)))
        accuracy = float(np.mean((predict(model, ids) > 0.5) == labels))
        if accuracy == 1.0:
            break
    if not accuracy == 1.0:
        raise AssertionError(f"after {epochs} epochs on {len(ids)} reviews, training accuracy is {accuracy:.0%} "
                             f"(loss {losses[0]:.3f} -> {losses[-1]:.3f}); a correct loop reaches 100 %: check "
                             "zero_grad, backward and optimizer.step, and that the loss uses the labels as floats")
    print(f"overfit OK: 100 % training accuracy on {len(ids)} reviews after {len(losses)} epochs "
          f"(loss {losses[0]:.3f} -> {losses[-1]:.3f})")
    return losses


def check_lstm_cell(fn, seed=0):
    """fn(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h, c), against nn.LSTMCell with the same weights."""
    for B, d, n in [(3, 4, 5), (1, 1, 1), (2, 10, 8)]:
        torch.manual_seed(seed + B + d + n)
        ref = nn.LSTMCell(d, n)
        x, h, c = torch.randn(B, d), torch.randn(B, n), torch.randn(B, n)
        with torch.no_grad():
            got = _call(fn, x, h, c, ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
            h_ref, c_ref = ref(x, (h, c))
        if not (isinstance(got, tuple) and len(got) == 2):
            raise AssertionError("return a tuple (h_new, c_new)")
        for name, mine, expected in (("c_new", got[1], c_ref), ("h_new", got[0], h_ref)):
            if tuple(mine.shape) != tuple(expected.shape):
                raise AssertionError(f"{name} has shape {tuple(mine.shape)}, expected {tuple(expected.shape)}")
            err = (mine - expected).abs().max().item()
            if not err < 1e-6:
                hint = ("c_new = f * c + i * g, with sigmoid on i and f and tanh on g; the gates come in the order "
                        "i, f, g, o (chunk(4, dim=1))" if name == "c_new" else "h_new = o * tanh(c_new), sigmoid on o")
                raise AssertionError(f"{name} differs from nn.LSTMCell by up to {err:.2e} (must be < 1e-6): {hint}")
    print("lstm_cell OK: matches nn.LSTMCell with copied weights (max abs difference < 1e-6) on 3 sizes")


def check_lstm_param_count(fn):
    """fn(d, n) -> parameters of one LSTM layer with one bias vector per gate: 4(dn + n^2 + n)."""
    for d, n in [(10, 128), (1, 1), (50, 64), (3, 7)]:
        got = _call(fn, d, n)
        torch_count = sum(p.numel() for p in nn.LSTM(d, n).parameters())
        if got != 4 * (d * n + n * n + n):
            raise AssertionError(f"lstm_param_count({d}, {n}) = {got}; count, for each of the 4 gates, the input "
                                 f"weights (d x n), the recurrent weights (n x n) and one bias (n)")
        if torch_count - got != 4 * n:
            raise AssertionError("unexpected PyTorch count")
    print("lstm_param_count OK: 4(dn + n^2 + n); PyTorch's count is 4n larger (two bias vectors, b_ih and b_hh)")


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


def check_time_gate(fn, seed=0):
    """fn(t, tau, shift, r_on, alpha) -> k, NumPy, element-wise with broadcasting."""
    from labutils.nn.phased import time_gate
    for args, expected, why in TIME_GATE_CASES:
        got = _call(fn, np.array([args[0]]), *args[1:])
        got = float(np.asarray(got).reshape(-1)[0])
        if not abs(got - expected) < 1e-9:
            hint = ("the phase must lie in [0, 1): np.mod of a negative number by a positive period is positive"
                    if args[0] < args[2] else "")
            raise AssertionError(f"time_gate(t={args[0]}, tau={args[1]}, s={args[2]}, r_on={args[3]}, "
                                 f"alpha={args[4]}) = {got:.6g}, expected {expected:g} ({why}). {hint}".strip())
    rng = np.random.default_rng(seed)
    t = rng.uniform(-50, 200, (6, 1))
    tau, shift = np.exp(rng.uniform(0, 4, 5)), rng.uniform(0, 20, 5)
    got = np.asarray(_call(fn, t, tau, shift, 0.1, 1e-3))
    expected = time_gate(t, tau, shift, 0.1, 1e-3)
    if got.shape != expected.shape:
        raise AssertionError(f"t (6, 1) with tau and shift (5,) must broadcast to (6, 5), got {got.shape}: "
                             "use element-wise NumPy operations (np.mod, np.where), not Python if/else")
    err = np.abs(got - expected).max()
    if err > 1e-9:
        raise AssertionError(f"on random inputs the gate differs from the reference by up to {err:.2e}")
    print(f"time_gate OK: {len(TIME_GATE_CASES)} hand-worked cases and 30 random (t, tau, s) broadcast cases")


def check_phased_lstm_step(fn, seed=0):
    """fn(x, t, h, c, cell) -> (h_new, c_new, k), against the reference on a PhasedLSTMCell."""
    from labutils.nn.phased import PhasedLSTMCell, phased_lstm_step
    torch.manual_seed(seed)
    cell = PhasedLSTMCell(3, 6, tau_range=(2.0, 20.0), r_on=0.3)
    x, h, c = torch.randn(4, 3), torch.randn(4, 6), torch.randn(4, 6)
    t = torch.tensor([0.5, 3.0, 7.5, 12.0])
    with torch.no_grad():
        got = _call(fn, x, t, h, c, cell)
        expected = phased_lstm_step(x, t, h, c, cell)
    if not (isinstance(got, tuple) and len(got) == 3):
        raise AssertionError("return a tuple (h_new, c_new, k)")
    names = ("h_new", "c_new", "k")
    for name, mine, ref in zip(names, got, expected):
        mine = torch.as_tensor(mine)
        if tuple(mine.shape) != tuple(ref.shape):
            raise AssertionError(f"{name} has shape {tuple(mine.shape)}, expected {tuple(ref.shape)} (B, n): "
                                 "the gate of unit j at time t[b] is k[b, j]; t[:, None] broadcasts against tau")
    k = expected[2]
    if torch.allclose(got[2], k, atol=1e-6):
        h_prop, c_prop = expected[0] - (1 - k) * h, expected[1] - (1 - k) * c   # k * proposal
        for name, mine, ref, old in (("c_new", got[1], expected[1], c), ("h_new", got[0], expected[0], h)):
            if torch.allclose(mine, (1 - k) * (ref - (1 - k) * old) / k.clamp_min(1e-12) + k * old, atol=1e-5):
                raise AssertionError(f"{name}: k and 1 - k are swapped: the *new* value passes where the gate is open")
            if not torch.allclose(mine, ref, atol=1e-5):
                err = (mine - ref).abs().max().item()
                raise AssertionError(f"{name} differs from the reference by up to {err:.2e}: {name} = k * proposal "
                                     "+ (1 - k) * old value, the proposal from lstm_cell_step with cell.cell's weights")
    else:
        err = (got[2] - k).abs().max().item()
        raise AssertionError(f"k differs from the reference by up to {err:.2e}: time_gate(t[:, None], cell.tau, "
                             "cell.shift, cell.r_on, cell.alpha)")
    print("phased_lstm_step OK: h, c and k match the reference (4 sequences, 6 units)")


def check_temporal_softmax_loss(fn, seed=0):
    """fn(scores (N, T, V), targets (N, T), mask (N, T)) -> scalar: masked cross-entropy summed over time / N."""
    from labutils.nn.captioning import temporal_softmax_loss
    g = torch.Generator().manual_seed(seed)
    for N, T, V in [(3, 5, 7), (1, 1, 2), (10, 8, 4)]:
        scores = torch.randn(N, T, V, generator=g, dtype=torch.float64)
        targets = torch.randint(0, V, (N, T), generator=g)
        mask = torch.rand(N, T, generator=g) > 0.3
        mask[0, 0] = True
        got, expected = _call(fn, scores, targets, mask), temporal_softmax_loss(scores, targets, mask)
        got = torch.as_tensor(got)
        if got.dim() != 0:
            raise AssertionError(f"return one number (a 0-d tensor), not shape {tuple(got.shape)}")
        if torch.isclose(got, temporal_softmax_loss(scores, targets, torch.ones_like(mask)), rtol=1e-9) and \
                not mask.all() and not torch.isclose(got, expected, rtol=1e-9):
            raise AssertionError("the loss counts the padded steps: multiply each step's loss by the mask")
        n_real = mask.sum()
        if torch.isclose(got, expected * N / n_real, rtol=1e-9) and N != n_real:
            raise AssertionError("the loss is divided by the number of real words; CS231n's convention divides by "
                                 f"the batch size N: sum over time, average over captions (here N = {N})")
        if not torch.isclose(got, expected, rtol=1e-7):
            raise AssertionError(f"loss {got.item():.6f}, expected {expected.item():.6f} for N, T, V = {N}, {T}, {V}: "
                                 "-log softmax(scores)[target], times the mask, summed, divided by N")
    scores.requires_grad_(True)
    loss = _call(fn, scores, targets, mask)
    loss.backward()
    if scores.grad is None or scores.grad[~mask].abs().max() > 0:
        raise AssertionError("no gradient may reach the scores at masked steps (and some must reach the rest): "
                             "build the loss from torch operations on scores")
    print("temporal_softmax_loss OK: matches the reference on 3 shapes; padded steps get no loss and no gradient")


def check_greedy_decode(fn, seed=0):
    """fn(model, images, vocab, max_length) -> (N, max_length) word ids, against labutils' greedy decoder."""
    from labutils.data.captions import END, NULL, CaptionVocab
    from labutils.nn.captioning import Captioner, decode
    vocab = CaptionVocab.build(["a b c d e f"])
    torch.manual_seed(0)
    model = Captioner(len(vocab), "lstm", embed_dim=8, hidden_size=16, encoder=nn.Linear(5, 16))
    with torch.no_grad():                           # (seed 0) some captions end at steps 0-2, the rest run to 9
        model.head.weight.mul_(4)
        model.head.bias[vocab[END]] += 0.2
        model.head.bias[vocab[NULL]] -= 5           # a trained model never predicts <NULL>
    images = 3 * torch.randn(12, 5, generator=torch.Generator().manual_seed(seed))
    expected = decode(model, images, vocab, max_length=9)
    with torch.no_grad():
        got = torch.as_tensor(_call(fn, model, images, vocab, 9))
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
    print("greedy_decode OK: 12 captions match the reference word for word, <NULL> after <END>")
