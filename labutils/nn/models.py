"""PyTorch models for the labs. Batches are batch-first: ids (B, T) right-padded, lengths (B,).

``SentimentRNN`` reads each review's state after its last *real* token. Instead of packed sequences
(slow on CPU with torch 2.13: a packed batch of mixed lengths runs many times slower than a padded one),
every direction runs on right-padded input and the state is gathered at position length-1; the backward
direction runs on each review reversed in place (``reverse_padded``), so padding never enters it.
"""
import torch
from torch import nn

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def reverse_padded(x, lengths):
    """Reverse the first lengths[b] steps of each row of x (B, T, ...), leaving the padding where it is."""
    T = x.shape[1]
    t = torch.arange(T, device=x.device)[None, :]
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)        # (B, T)
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))


def last_real_step(out, lengths):
    """out: (B, T, D) -> (B, D), the row at position lengths[b] - 1."""
    idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.shape[2])
    return out.gather(1, idx).squeeze(1)


class SentimentRNN(nn.Module):
    """Embedding -> RNN/LSTM/GRU (layers, optional bidirectional) -> features -> one logit (positive review).

    pooling: "last" (the state after the last real token, in each direction, as in the course),
    "max" or "mean" (over the real time steps of the top layer's outputs).
    """

    def __init__(self, vocab_size, embed_dim=50, hidden_size=64, cell="lstm", layers=1, bidirectional=False,
                 dropout=0.0, embeddings=None, freeze_embeddings=False, pooling="last", padding_idx=0,
                 recurrent_init="orthogonal"):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, not {cell!r}")
        if pooling not in ("last", "max", "mean"):
            raise ValueError(f"pooling must be 'last', 'max' or 'mean', not {pooling!r}")
        if recurrent_init not in ("orthogonal", "default"):
            raise ValueError(f"recurrent_init must be 'orthogonal' or 'default', not {recurrent_init!r}")
        self.config = dict(vocab_size=vocab_size, embed_dim=embed_dim, hidden_size=hidden_size, cell=cell,
                           layers=layers, bidirectional=bidirectional, dropout=dropout, pooling=pooling,
                           recurrent_init=recurrent_init)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        if embeddings is not None:
            embeddings = torch.as_tensor(embeddings, dtype=torch.float32)
            if embeddings.shape != (vocab_size, embed_dim):
                raise ValueError(f"embeddings have shape {tuple(embeddings.shape)}, "
                                 f"expected ({vocab_size}, {embed_dim})")
            self.embedding.weight.data.copy_(embeddings)
        self.embedding.weight.requires_grad = not freeze_embeddings
        directions = 2 if bidirectional else 1
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for layer in range(layers):
            size_in = embed_dim if layer == 0 else hidden_size * directions
            self.forward_layers.append(CELLS[cell](size_in, hidden_size, batch_first=True))
            if bidirectional:
                self.backward_layers.append(CELLS[cell](size_in, hidden_size, batch_first=True))
        if recurrent_init == "orthogonal":
            # every gate's (hidden, hidden) recurrent block starts orthogonal: all its singular values are 1,
            # so the gradient through the recurrence neither shrinks nor grows at the start (notebook 01)
            for rnn in list(self.forward_layers) + list(self.backward_layers):
                for block in rnn.weight_hh_l0.data.split(hidden_size, dim=0):
                    nn.init.orthogonal_(block)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * directions, 1)

    def features(self, ids, lengths):
        """ids: (B, T), lengths: (B,) -> (B, hidden_size * directions)"""
        x = self.dropout(self.embedding(ids))
        for i, rnn in enumerate(self.forward_layers):
            out, _ = rnn(x)
            if self.backward_layers:
                back, _ = self.backward_layers[i](reverse_padded(x, lengths))
                last = torch.cat([last_real_step(out, lengths), last_real_step(back, lengths)], dim=1)
                out = torch.cat([out, reverse_padded(back, lengths)], dim=2)
            else:
                last = last_real_step(out, lengths)
            x = self.dropout(out) if i < len(self.forward_layers) - 1 else out
        if self.config["pooling"] == "last":
            return last
        mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]).unsqueeze(2)
        if self.config["pooling"] == "max":
            return x.masked_fill(~mask, float("-inf")).max(dim=1).values
        return (x * mask).sum(dim=1) / lengths[:, None].to(x.dtype)

    def forward(self, ids, lengths):
        """ids: (B, T) long, lengths: (B,) long -> logits (B,)"""
        if ids.dim() != 2 or lengths.shape != ids.shape[:1]:
            raise ValueError(f"ids must be (B, T) and lengths (B,); got {tuple(ids.shape)} and {tuple(lengths.shape)}")
        return self.head(self.dropout(self.features(ids, lengths))).squeeze(1)
