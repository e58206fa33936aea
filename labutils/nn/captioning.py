"""Notebook 09: image captioning with an RNN or LSTM decoder (the CS231n pipeline, in PyTorch).

image -> encoder -> initial hidden state h0 (N, H); captions_in = caption[:, :-1] (starts with <START>) are embedded
and fed with teacher forcing; the decoder's scores (N, T, V) predict captions_out = caption[:, 1:]; <NULL>
padding (id 0) is masked out of the loss. At test time the decoder feeds back its own words.
"""
import dataclasses
import math

import numpy as np
import torch
from torch import nn

from labutils.data.captions import END, NULL, START
from labutils.data.scenes import GRID, N_CELL_CLASSES, cell_labels
from labutils.nn import loop

# Notebook 09's decoders (and benchmarks/captioning_seeds.py's): word embedding and hidden width, Adam's step,
# and the epochs without a better validation loss before early stopping
EMBED, HIDDEN, LR, PATIENCE = 32, 128, 2e-3, 5


class ImageEncoder(nn.Module):
    """A small CNN: (N, 3, 32, 32) -> (N, out_dim). No global pooling: where a shape is matters for the caption."""

    def __init__(self, out_dim):
        super().__init__()
        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
        self.net = nn.Sequential(*block(3, 16), *block(16, 32), *block(32, 32),   # 32 -> 16 -> 8 -> 4 pixels
                                 nn.Flatten(), nn.Linear(32 * 4 * 4, out_dim))
        # no tanh on h0 (CS231n's projection is affine too): the decoder would push it into saturation, where
        # h0 is the same for every image and the captions stop depending on the picture

    def forward(self, images):
        return self.net(images)


def pretrain_encoder(split, out_dim=256, epochs=4, batch_size=64, lr=2e-3, seed=0):
    """Train an ImageEncoder to name what lies in each grid cell (our stand-in for ImageNet pretraining).

    split.scenes gives the labels (labutils.data.scenes.cell_labels). The classifier stays on as encoder.head.
    -> History: ``.model`` the encoder in eval mode, ``.train_loss`` its per-epoch losses
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    encoder = ImageEncoder(out_dim)
    encoder.head = nn.Linear(out_dim, GRID * GRID * N_CELL_CLASSES)
    opt = loop.make_optimizer("adam", encoder.parameters(), lr)
    images = torch.from_numpy(split.images)
    labels = torch.from_numpy(np.stack([cell_labels(s) for s in split.scenes]))
    losses = []
    for _ in range(epochs):
        total = 0.0
        for idx in np.array_split(rng.permutation(len(images)), max(1, len(images) // batch_size)):
            loss = nn.functional.cross_entropy(cell_logits(encoder, images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(images))
    encoder.eval()
    return loop.History(every=1, steps=epochs, step=list(range(1, epochs + 1)), train_loss=losses,
                        stopped=f"{epochs} epochs", model=encoder)


def cell_logits(encoder, images):
    """Pretraining head: images (N, 3, 32, 32) -> logits (N, classes, 9 cells)."""
    return encoder.head(torch.relu(encoder(images))).view(len(images), N_CELL_CLASSES, GRID * GRID)


@torch.no_grad()
def cell_accuracy(encoder, split):
    """Fraction of grid cells whose content (empty, or kind + colour + size) the pretrained encoder names right."""
    predicted = cell_logits(encoder, torch.from_numpy(split.images)).argmax(1).numpy()
    return float(np.mean(predicted == np.stack([cell_labels(s) for s in split.scenes])))


@torch.no_grad()
def extract_features(encoder, splits, fit_on="train"):
    """Copies of the splits whose images are the encoder's fixed features (N, D): COCO-style from here on.

    splits: {name: CaptionSplit}. Features are standardised with the mean and std of splits[fit_on]: raw ReLU
    features are large and positive, and the decoder then learns its h0 projection several times slower.
    """
    raw = {name: torch.relu(encoder(torch.from_numpy(split.images))).numpy() for name, split in splits.items()}
    mean, std = raw[fit_on].mean(0), raw[fit_on].std(0) + 1e-6
    return {name: dataclasses.replace(split, images=((raw[name] - mean) / std).astype(np.float32))
            for name, split in splits.items()}


class Captioner(nn.Module):
    """Encoder -> h0; word embedding -> nn.RNN (tanh) or nn.LSTM -> linear scores over the vocabulary.

    encoder: any module mapping a batch of images (or features) to (N, hidden_size); the default is ImageEncoder,
    for precomputed features (COCO-style) pass nn.Linear(feature_dim, hidden_size).
    """

    def __init__(self, vocab_size, cell="lstm", embed_dim=32, hidden_size=128, encoder=None):
        super().__init__()
        if cell not in ("rnn", "lstm"):
            raise ValueError(f"cell must be 'rnn' or 'lstm', not {cell!r}")
        self.cell = cell
        self.encoder = encoder if encoder is not None else ImageEncoder(hidden_size)
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = (nn.RNN if cell == "rnn" else nn.LSTM)(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def init_state(self, images, image_idxs=None):
        """-> the decoder's state before <START>: h0 (1, N, H), and for the LSTM (h0, c0 = 0).

        image_idxs (N,): caption i starts from image image_idxs[i] (each image is encoded once, however many
        captions it has); None: one caption per image.
        """
        h0 = self.encoder(images)
        h0 = (h0 if image_idxs is None else h0[image_idxs]).unsqueeze(0)
        return h0 if self.cell == "rnn" else (h0, torch.zeros_like(h0))

    def forward(self, images, captions_in, image_idxs=None):
        """images (B, ...), captions_in (N, T) word ids, image_idxs (N,) or None -> scores (N, T, V).

        Teacher forcing: the true previous word is the input at every step."""
        out, _ = self.rnn(self.embed(captions_in), self.init_state(images, image_idxs))
        return self.head(out)

    def step(self, words, state):
        """One decoding step: words (N,) -> scores (N, V), new state."""
        out, state = self.rnn(self.embed(words).unsqueeze(1), state)
        return self.head(out[:, 0]), state


def temporal_softmax_loss(scores, targets, mask):
    """Cross-entropy summed over the unmasked time steps and averaged over the batch (CS231n's convention).

    scores (N, T, V), targets (N, T) ids, mask (N, T) bool (False at <NULL> padding) -> scalar
    """
    N, T, V = scores.shape
    if targets.shape != (N, T) or mask.shape != (N, T):
        raise ValueError(f"scores {tuple(scores.shape)} need targets and mask of shape {(N, T)}, "
                         f"not {tuple(targets.shape)} and {tuple(mask.shape)}")
    nll = nn.functional.cross_entropy(scores.reshape(N * T, V), targets.reshape(N * T), reduction="none")
    return (nll * mask.reshape(N * T).float()).sum() / N


def teacher_forcing(captions, null_id=0):
    """The shift of teacher forcing (notebook 09, exercise 1): the decoder reads every word but the last and
    predicts every word but the first; a step counts when its target is a real word (<END> included).

    captions (N, T) word ids, <START> first -> captions_in (N, T-1), captions_out (N, T-1), mask (N, T-1) bool
    """
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    return captions_in, captions_out, captions_out != null_id


def caption_loss(model, images, captions, image_idxs=None, null_id=0):
    """Teacher-forced loss of a batch: captions (N, T) with <START> first -> scalar."""
    captions_in, captions_out, mask = teacher_forcing(captions, null_id)
    return temporal_softmax_loss(model(images, captions_in, image_idxs), captions_out, mask)


@torch.no_grad()
def decode(model, images, vocab, max_length=20, temperature=0.0, generator=None):
    """Greedy (temperature 0) or sampled captions -> (N, max_length) word ids, <NULL> after each <END>.

    Start from <START>; at each step feed the previous word back; a caption that produced <END> stays finished.
    """
    was_training = model.training
    model.eval()
    N = len(images)
    state = model.init_state(images)
    words = torch.full((N,), vocab[START], dtype=torch.long)
    out = torch.full((N, max_length), vocab[NULL], dtype=torch.long)
    done = torch.zeros(N, dtype=torch.bool)
    for t in range(max_length):
        scores, state = model.step(words, state)
        if temperature > 0:
            probs = torch.softmax(scores / temperature, dim=1)
            words = torch.multinomial(probs, 1, generator=generator)[:, 0]
        else:
            words = scores.argmax(dim=1)
        out[:, t] = torch.where(done, vocab[NULL], words)
        done |= words == vocab[END]
        if done.all():
            break
    model.train(was_training)
    return out


def minibatches(split, batch_size, rng=None):
    """One epoch: batches of batch_size images with all their captions -> (images, captions, image_idxs) tensors.

    image_idxs index into the batch's images; rng None keeps the split's order.
    """
    order = np.arange(len(split.images)) if rng is None else rng.permutation(len(split.images))
    rows = np.argsort(split.image_idxs, kind="stable")                # caption rows grouped by image
    starts = np.searchsorted(split.image_idxs[rows], np.arange(len(split.images) + 1))
    for i in range(0, len(order), batch_size):
        batch = order[i:i + batch_size]
        caption_rows = [rows[starts[j]:starts[j + 1]] for j in batch]
        local = np.repeat(np.arange(len(batch)), [len(r) for r in caption_rows])
        yield (torch.from_numpy(split.images[batch]), torch.from_numpy(split.captions[np.concatenate(caption_rows)]),
               torch.from_numpy(local))


@torch.no_grad()
def evaluate_loss(model, split, batch_size=250):
    """Mean teacher-forced loss per caption over a split."""
    model.eval()
    total = 0.0
    for images, captions, image_idxs in minibatches(split, batch_size):
        total += caption_loss(model, images, captions, image_idxs).item() * len(captions)
    model.train()
    return total / len(split.captions)


def train_captioner(model, train, epochs, val=None, batch_size=32, lr=2e-3, seed=0, clip=5.0, patience=None):
    """Adam on the teacher-forced loss, batch_size images (with all their captions) per step, for at most
    ``epochs`` epochs -> History (labutils.nn.loop), one entry per epoch.

    With val: validated after each epoch, the best weights kept; patience: stop after that many epochs
    without a lower validation loss.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    per_epoch = -(-len(train.images) // batch_size)

    def epochs_of_batches():
        for _ in range(epochs):
            yield from minibatches(train, batch_size, rng)

    return loop.train(model, epochs_of_batches(), lambda m, b: caption_loss(m, *b),
                      loop.make_optimizer("adam", model.parameters(), lr), epochs * per_epoch,
                      validate=(lambda m: (evaluate_loss(m, val), math.nan)) if val is not None else None,
                      every=per_epoch, patience=patience, clip=clip)


def read_seed_table():
    """benchmarks/captioning_seeds.py's committed table -> list of dicts: cell, seed, epochs, best_epoch,
    converged, best_val_loss, bleu4, true_captions, commit, machine."""
    from labutils.results import read_measured
    types = {"seed": int, "epochs": int, "best_epoch": int, "converged": lambda v: v == "True",
             "best_val_loss": float, "bleu4": float, "true_captions": float}
    return read_measured("captioning_seeds.csv", types, "python benchmarks/captioning_seeds.py (minutes)")
