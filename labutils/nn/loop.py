"""The one training loop behind every PyTorch model of the labs (notebooks 05-09).

A run is bounded by steps, never by seconds, so it records the same numbers on a fast machine and on a slow
or busy one, only sooner or later. Each step: loss, backward, optional gradient clipping, optimiser step.
Every ``every`` steps (and after the last): validation, the best weights kept, early stopping. At the end the
best weights are restored and ``History`` says why the run stopped and whether it converged.
"""
import copy
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

# The optimisers the labs compare (notebook 06) and train with (Adam everywhere else), by name
OPTIMIZERS = {
    "sgd": lambda params, lr, weight_decay: torch.optim.SGD(params, lr=lr, weight_decay=weight_decay),
    "momentum": lambda params, lr, weight_decay: torch.optim.SGD(params, lr=lr, momentum=0.9,
                                                                 weight_decay=weight_decay),
    "rmsprop": lambda params, lr, weight_decay: torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay),
    "adam": lambda params, lr, weight_decay: torch.optim.Adam(params, lr=lr, weight_decay=weight_decay),
}


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """The optimiser called ``name`` (sgd, momentum, rmsprop, adam; PyTorch's defaults otherwise) over params."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")
    return OPTIMIZERS[name](params, lr, weight_decay)


def choose_device():
    """CUDA when present, else CPU (every notebook runs on CPU)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# The CPU kernel family pinned by deterministic(): every x86-64 CPU since 2013 runs it, and AVX-512 kernels
# round differently, so without the pin two machines give different last digits (notebook 09's RNN: BLEU-4 0.676 on
# AVX-512, 0.603 with all three pinned). ATen, oneDNN and MKL each read their variable at their first operation.
KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}


def deterministic(threads: int = 2, pin_kernels: bool = True) -> None:
    """Deterministic kernels, one CPU kernel family and a fixed intra-op thread count.

    With these fixed, a run gives bitwise the same numbers on a machine whatever its load or speed, only sooner or
    later, and two x86-64 machines no longer differ by their kernel family. Two CPU models may still differ in the
    last digits (measured: notebook 05's plain RNN 0.837 and 0.813 on two AVX-512 machines), as may another library
    build, an ARM CPU or a GPU.
    Call it before the first tensor operation: the kernel family is chosen then, once per process.
    ``pin_kernels=False`` keeps the machine's fastest kernels. On CUDA, cuBLAS is deterministic only with
    ``CUBLAS_WORKSPACE_CONFIG`` set, which importing ``labutils.nn`` does.
    """
    if torch.cuda.is_available() and not os.environ.get("CUBLAS_WORKSPACE_CONFIG"):
        raise RuntimeError("CUBLAS_WORKSPACE_CONFIG is unset, so CUDA matrix products cannot be deterministic: "
                           "set it to ':4096:8' before torch touches CUDA (importing labutils.nn does)")
    if pin_kernels and torch.cpu._is_avx2_supported():
        os.environ.update(KERNELS)
        if torch.backends.cpu.get_cpu_capability() != "AVX2":
            warnings.warn(f"PyTorch chose its {torch.backends.cpu.get_cpu_capability()} kernels before "
                          "deterministic() could pin AVX2, so the numbers may differ from another machine's in the "
                          "last digits: restart the kernel and call deterministic() before any tensor operation",
                          RuntimeWarning, stacklevel=2)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


@dataclass
class History:
    """What a run did, the one thing every trainer of labutils.nn returns. One entry per validation in step,
    train_loss (mean since the previous validation), val_loss, val_metric (accuracy, or NaN) and seconds (wall
    clock, for plots only: never a stopping rule); then the model it trained and what was measured after."""
    step: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_metric: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    every: int = 0                  # steps between validations (an epoch, when validating once per epoch)
    steps: int = 0                  # optimiser steps taken
    best_step: int = 0              # the step whose weights were restored (0: the initial weights)
    best_val_loss: float = math.inf
    stopped: str = ""               # why the run ended, in words
    converged: bool = False         # early stopping fired or the goal was reached before the step cap
    model: Any = None               # the trained model (with the best validated weights, when validated)
    results: dict = field(default_factory=dict)   # measured after training, e.g. test_acc (see each trainer)
    samples: list = field(default_factory=list)   # (step, text) generated while training

    @property
    def best_metric(self):
        return self.val_metric[self.step.index(self.best_step)] if self.best_step in self.step else math.nan


def train(model, batches, loss_fn, optimizer, max_steps, validate=None, every=100, patience=None, min_delta=0.0,
          solved=None, clip=None, progress=False, after_step=None):
    """Train ``model`` for at most ``max_steps`` optimiser steps -> History.

    batches: an iterable of batches (fresh samples, or epochs one after the other); the run also ends when it
        runs out. loss_fn(model, batch) -> scalar loss tensor.
    validate(model) -> (loss, metric) on held-out data, lower loss better (metric: accuracy or NaN); runs in
        eval mode every ``every`` steps and after the last step. With it, the weights of the best validation
        loss are restored at the end.
    patience: stop after this many validations in a row without a loss below best - min_delta (converged).
    solved(loss, metric) -> True stops the run as converged (e.g. accuracy 99 %: nothing left to learn).
    clip: the gradient norm is clipped to this. after_step(step, model) runs after every step (samples, logs).
    """
    history, best_state, waited, running = History(every=every), None, 0, []
    start = time.perf_counter()
    bar = tqdm(total=max_steps, disable=not progress, desc="steps", leave=False)

    def check():
        nonlocal best_state, waited
        history.step.append(history.steps)
        history.train_loss.append(sum(running) / len(running) if running else math.nan)
        running.clear()
        history.seconds.append(time.perf_counter() - start)
        if validate is None:
            history.val_loss.append(math.nan)
            history.val_metric.append(math.nan)
        else:
            was_training = model.training
            model.eval()
            with torch.no_grad():
                loss, metric = validate(model)
            model.train(was_training)
            history.val_loss.append(float(loss))
            history.val_metric.append(float(metric))
            if loss < history.best_val_loss - min_delta:
                history.best_val_loss, history.best_step, waited = float(loss), history.steps, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
            if solved is not None and solved(loss, metric):
                history.stopped, history.converged = f"solved at step {history.steps}", True
            elif patience is not None and waited >= patience:
                history.stopped = (f"early stop at step {history.steps}: no better validation loss in "
                                   f"{patience * every} steps")
                history.converged = True

    model.train()
    for batch in batches:
        if history.steps >= max_steps:
            break
        loss = loss_fn(model, batch)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        history.steps += 1
        running.append(loss.item())
        bar.update(1)
        if after_step is not None:
            after_step(history.steps, model)
        if history.steps % every == 0:
            check()
            if history.stopped:
                break
    bar.close()
    if not history.step or history.step[-1] != history.steps:
        check()
    if not history.stopped:
        history.stopped = f"step cap of {max_steps} reached" if history.steps >= max_steps else \
            f"data ran out after {history.steps} steps"
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    history.model = model
    return history
