import itertools
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labutils.nn.loop import KERNELS, train  # noqa: E402


def regression(seed=0):
    """A linear model and an endless stream of noisy batches from a fixed linear rule."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    w = torch.tensor([[2.0, -1.0]])

    def batch():
        x = torch.from_numpy(rng.normal(size=(16, 2)).astype(np.float32))
        return x, x @ w.T + 0.1 * torch.from_numpy(rng.normal(size=(16, 1)).astype(np.float32))

    xv, yv = batch()
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mse = torch.nn.functional.mse_loss
    return model, (batch() for _ in itertools.count()), lambda m, b: mse(m(b[0]), b[1]), opt, \
        lambda m: (mse(m(xv), yv).item(), math.nan)


def test_step_cap_and_data_running_out():
    model, batches, loss, opt, _ = regression()
    h = train(model, batches, loss, opt, 25, every=10)
    assert h.steps == 25 and h.step == [10, 20, 25] and h.stopped == "step cap of 25 reached" and not h.converged
    model, batches, loss, opt, _ = regression()
    h = train(model, itertools.islice(batches, 7), loss, opt, 100, every=5)
    assert h.steps == 7 and h.stopped == "data ran out after 7 steps"


def test_early_stopping_fires_and_restores_the_best_weights():
    model, batches, loss, opt, validate = regression()
    h = train(model, batches, loss, opt, 10_000, validate=validate, every=20, patience=3, min_delta=1e-4)
    assert h.converged and h.stopped.startswith("early stop") and h.steps < 10_000
    assert h.best_val_loss == min(h.val_loss) and validate(model)[0] == pytest.approx(h.best_val_loss)
    assert h.step[-1] - h.best_step == 3 * 20                 # three validations without improvement


def test_solved_stops_the_run():
    model, batches, loss, opt, validate = regression()
    h = train(model, batches, loss, opt, 10_000, validate=validate, every=10, solved=lambda loss, _: loss < 0.05)
    assert h.converged and h.stopped.startswith("solved") and h.val_loss[-1] < 0.05


# The training path of notebook 05 (labutils.nn.sentiment.train_and_test), on reviews made up here.
SENTIMENT = """
import hashlib, json, numpy as np, torch
from labutils.nn.loop import deterministic
from labutils.nn.sentiment import table_row, train_and_test
deterministic(threads=2)
rng = np.random.default_rng(0)
def reviews(n):
    ids = [rng.integers(2, 60, rng.integers(5, 40)) for _ in range(n)]
    return ids, np.array([int((x < 30).mean() > 0.5) for x in ids])
data = {"train": reviews(600), "val": reviews(150), "test": reviews(150)}
emb = rng.normal(size=(60, 8)).astype(np.float32)
history = train_and_test(data, emb, cell="lstm", bidirectional=True, max_epochs=6, patience=2, lr=5e-3)
row, p = table_row(history), history.results["test_p"]
row.pop("seconds")
print(json.dumps({"row": row, "val_loss": history.val_loss, "p": hashlib.sha256(p.tobytes()).hexdigest(),
                  "kernels": torch.backends.cpu.get_cpu_capability()}))
"""

# Notebook 09's pipeline (scenes, the CNN's pretraining, features, a decoder to early stopping, BLEU), small.
CAPTIONING = """
import hashlib, json, numpy as np, torch
from torch import nn
from labutils.bleu import corpus_bleu
from labutils.data import scenes
from labutils.data.captions import decode_captions
from labutils.nn import captioning
from labutils.nn.loop import deterministic
deterministic(threads=2)
splits, vocab = scenes.load_scenes(n_train=300, n_val=100, n_test=100, seed=0)
pre = captioning.pretrain_encoder(splits["train"], out_dim=64, epochs=2)
features = captioning.extract_features(pre.model, splits)
torch.manual_seed(0)
model = captioning.Captioner(len(vocab), "lstm", 16, 32, encoder=nn.Linear(64, 32))
history = captioning.train_captioner(model, features["train"], 4, val=features["val"], patience=2)
ids = captioning.decode(model, torch.from_numpy(features["test"].images), vocab, 20)
digest = hashlib.sha256(features["train"].images.tobytes()).hexdigest()
print(json.dumps({"pretrain": pre.train_loss, "features": digest, "val_loss": history.val_loss,
                  "row": {"epochs": len(history.val_loss)},
                  "bleu": corpus_bleu(splits["test"].references, decode_captions(ids.numpy(), vocab))[4],
                  "kernels": torch.backends.cpu.get_cpu_capability()}))
"""


def run_training(script, prefix=(), env=None):
    out = subprocess.run([*prefix, sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset (util-linux)")
@pytest.mark.parametrize("script", [SENTIMENT, CAPTIONING], ids=["sentiment", "captioning"])
def test_results_do_not_depend_on_the_machines_speed_or_load(script):
    quiet = run_training(script)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])     # a busy neighbour on the same core
    try:
        subprocess.run(["taskset", "-cp", "0", str(hog.pid)], check=True, capture_output=True)
        loaded = run_training(script, ("taskset", "-c", "0"))               # one core, shared with the hog
    finally:
        hog.kill()
        hog.wait()
    assert loaded == quiet, "the same seeded run gave other numbers when the machine was slower"
    assert quiet["row"]["epochs"] >= 1 and len(quiet["val_loss"]) == quiet["row"]["epochs"]


@pytest.mark.skipif(not torch.cpu._is_avx512_supported(), reason="needs a CPU whose own kernels are not AVX2's")
@pytest.mark.parametrize("script", [SENTIMENT, CAPTIONING], ids=["sentiment", "captioning"])
def test_results_do_not_depend_on_the_cpu_kernels(script):
    # This CPU's own kernels are AVX-512's; a machine with AVX2 only is played by setting the variables at start.
    here = {k: v for k, v in os.environ.items() if k not in KERNELS}
    native = run_training(script, env=here)
    avx2_machine = run_training(script, env={**here, **KERNELS})
    assert native["kernels"] == "AVX2", f"deterministic() left PyTorch on its {native['kernels']} kernels"
    assert native == avx2_machine, "the same seeded run gave other numbers on an AVX2 machine"
