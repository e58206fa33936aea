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
