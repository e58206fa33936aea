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
