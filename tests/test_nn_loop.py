import itertools
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labutils.nn.loop import train  # noqa: E402


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
RUN = """
import hashlib, json, numpy as np
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
print(json.dumps({"row": row, "val_loss": history.val_loss, "p": hashlib.sha256(p.tobytes()).hexdigest()}))
"""


def run_training(prefix=()):
    out = subprocess.run([*prefix, sys.executable, "-c", RUN], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset (util-linux)")
def test_results_do_not_depend_on_the_machines_speed_or_load():
    quiet = run_training()
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])     # a busy neighbour on the same core
    try:
        subprocess.run(["taskset", "-cp", "0", str(hog.pid)], check=True, capture_output=True)
        loaded = run_training(("taskset", "-c", "0"))                       # one core, shared with the hog
    finally:
        hog.kill()
        hog.wait()
    assert loaded == quiet, "the same seeded run gave other numbers when the machine was slower"
    assert quiet["row"]["epochs"] >= 1 and len(quiet["val_loss"]) == quiet["row"]["epochs"]


def test_cuda_determinism_needs_no_setup_from_the_student():
    import os
    """On a CUDA runtime (Colab's GPU) deterministic kernels need CUBLAS_WORKSPACE_CONFIG before the first CUDA
    matrix product; a fresh interpreter that imports the notebooks' modules has it set, before torch touches CUDA."""
    import subprocess
    import sys
    code = ("import os; os.environ.pop('CUBLAS_WORKSPACE_CONFIG', None)\n"
            "import labutils.nn.loop as loop, torch\n"
            "assert os.environ['CUBLAS_WORKSPACE_CONFIG'] in (':4096:8', ':16:8')\n"
            "assert not torch.cuda.is_initialized()\n"
            "loop.deterministic(); print('ok')")
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_one_optimiser_factory_by_name():
    from labutils.nn.loop import make_optimizer
    params = [torch.nn.Parameter(torch.zeros(3))]
    kinds = {name: type(make_optimizer(name, params, 0.1)).__name__ for name in ("sgd", "momentum", "rmsprop", "adam")}
    assert kinds == {"sgd": "SGD", "momentum": "SGD", "rmsprop": "RMSprop", "adam": "Adam"}
    assert make_optimizer("momentum", params, 0.1).defaults["momentum"] == 0.9
    assert make_optimizer("adam", params, 0.1, weight_decay=0.1).defaults["weight_decay"] == 0.1
    with pytest.raises(ValueError, match="one of sgd, momentum, rmsprop, adam"):
        make_optimizer("adamw", params, 0.1)
