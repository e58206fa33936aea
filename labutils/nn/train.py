"""Training and evaluation for the PyTorch sentiment models: Adam, clipping, early stopping, checkpoints."""
import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from labutils.atomic import atomic_path
from labutils.nn.models import SentimentRNN
from labutils.nn.text import length_buckets, pad_batch


def choose_device():
    """CUDA when present, else CPU (every notebook runs on CPU)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def batches(ids, labels, batch_size, rng=None, shuffle=False, device="cpu"):
    """Yield (ids (B, T), lengths (B,), labels (B,)) tensors from length-bucketed batches."""
    for index in length_buckets([len(x) for x in ids], batch_size, rng, shuffle):
        x, lengths = pad_batch([ids[i] for i in index])
        yield x.to(device), lengths.to(device), torch.as_tensor(labels[index], dtype=torch.float32, device=device)


def train_epoch(model, ids, labels, optimizer, batch_size, rng, clip=1.0, device="cpu", deadline=None):
    """One pass over the data in shuffled length buckets -> mean training loss.

    deadline: a time.perf_counter() value after which the epoch stops early (a time budget).
    """
    model.train()
    loss_fn = nn.BCEWithLogitsLoss()
    total, n = 0.0, 0
    for x, lengths, y in batches(ids, labels, batch_size, rng, shuffle=True, device=device):
        optimizer.zero_grad()
        loss = loss_fn(model(x, lengths), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        total += loss.item() * len(y)
        n += len(y)
        if deadline is not None and time.perf_counter() > deadline:
            break
    return total / n


@torch.no_grad()
def predict(model, ids, batch_size=256, device="cpu"):
    """-> probabilities of 'positive' (n,), in the order of ids."""
    model.eval()
    out = np.empty(len(ids), dtype=np.float32)
    for index in length_buckets([len(x) for x in ids], batch_size, shuffle=False):
        x, lengths = pad_batch([ids[i] for i in index])
        out[index] = torch.sigmoid(model(x.to(device), lengths.to(device))).cpu().numpy()
    return out


def evaluate(model, ids, labels, batch_size=256, device="cpu"):
    """-> (mean binary cross-entropy, accuracy, probabilities)"""
    p = predict(model, ids, batch_size, device)
    eps = 1e-7
    loss = float(-np.mean(labels * np.log(p + eps) + (1 - labels) * np.log(1 - p + eps)))
    return loss, float(np.mean((p > 0.5) == labels)), p


def confusion_matrix(labels, predictions):
    """2x2 counts: rows true (neg, pos), columns predicted (neg, pos)."""
    m = np.zeros((2, 2), dtype=np.int64)
    np.add.at(m, (np.asarray(labels, int), np.asarray(predictions, int)), 1)
    return m


@dataclass
class FitResult:
    history: dict = field(default_factory=lambda: {"epoch": [], "train_loss": [], "val_loss": [], "val_acc": [],
                                                    "seconds": []})
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    seconds: float = 0.0
    stopped: str = ""


def fit(model, train_data, val_data, epochs=10, lr=2e-3, batch_size=64, clip=1.0, patience=2, time_budget=None,
        seed=0, device=None, progress=True, weight_decay=0.0):
    """Adam training with validation each epoch, early stopping on validation loss, best weights restored.

    train_data, val_data: (list of id arrays, labels int array). Stops after ``epochs``, after ``patience``
    epochs without a better validation loss, or when ``time_budget`` seconds of training have passed (the epoch
    running then stops early and is validated; validation time is not counted).
    """
    device = device or choose_device()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    result, best_state, waited = FitResult(), copy.deepcopy(model.state_dict()), 0
    trained = 0.0     # seconds spent training (validation excluded)
    for epoch in tqdm(range(1, epochs + 1), disable=not progress, desc="epochs"):
        tic = time.perf_counter()
        deadline = tic + time_budget - trained if time_budget is not None else None
        train_loss = train_epoch(model, *train_data, optimizer, batch_size, rng, clip, device, deadline)
        trained += time.perf_counter() - tic
        val_loss, val_acc, _ = evaluate(model, *val_data, device=device)
        for key, value in zip(result.history, (epoch, train_loss, val_loss, val_acc, trained)):
            result.history[key].append(value)
        if val_loss < result.best_val_loss:
            result.best_val_loss, result.best_epoch, waited = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
        if waited >= patience:
            result.stopped = f"early stop: no better validation loss for {patience} epochs"
            break
        if time_budget is not None and trained >= time_budget:
            result.stopped = f"time budget of {time_budget:.0f} s reached"
            break
    model.load_state_dict(best_state)
    result.seconds = trained
    result.stopped = result.stopped or f"{epochs} epochs"
    return result


def save_checkpoint(path, model, **extra):
    """state dict + the model's config (+ extra plain values) in one file, written atomically."""
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "config": dict(model.config), "extra": extra}, tmp)


def load_checkpoint(path, model_class):
    """Rebuild a model from save_checkpoint's file (weights_only: no arbitrary code runs) -> (model, extra)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = model_class(**blob["config"])
    model.load_state_dict(blob["state_dict"])
    return model, blob["extra"]


def train_and_test(data, embeddings, cell="lstm", layers=1, bidirectional=False, pooling="last", hidden_size=64,
                   dropout=0.0, time_budget=60.0, epochs=20, lr=3e-3, batch_size=128, seed=0, freeze_embeddings=False,
                   device=None):
    """Train one SentimentRNN configuration with a time budget; evaluate its best checkpoint on the test set.

    data: {"train": (ids, labels), "val": (ids, labels), "test": (ids, labels)}; embeddings: (vocab, dim) array.
    -> (row dict for a results table, FitResult, the model, test probabilities)
    """
    torch.manual_seed(seed)
    model = SentimentRNN(len(embeddings), embeddings.shape[1], hidden_size, cell, layers, bidirectional, dropout,
                         embeddings=embeddings, freeze_embeddings=freeze_embeddings, pooling=pooling)
    result = fit(model, data["train"], data["val"], epochs=epochs, lr=lr, batch_size=batch_size,
                 time_budget=time_budget, seed=seed, device=device, progress=False)
    _, test_acc, test_p = evaluate(model, *data["test"], device=device or choose_device())
    best = result.best_epoch - 1
    row = {"cell": cell, "layers": layers, "bidirectional": bidirectional, "pooling": pooling,
           "test_acc": round(test_acc, 4), "val_acc": round(result.history["val_acc"][best], 4),
           "epochs": len(result.history["epoch"]), "best_epoch": result.best_epoch,
           "seconds": round(result.seconds, 1), "stopped": result.stopped}
    return row, result, model, test_p
