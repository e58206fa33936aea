"""papermill's conventions: -p MODE quick (or -p of a budget) takes effect everywhere after the parameters cell."""
import json
import os

import nbformat
import pytest

from labutils.config import PROJECT_ROOT

papermill = pytest.importorskip("papermill")
from nbclient import NotebookClient  # noqa: E402
from papermill.iorw import load_notebook_node  # noqa: E402
from papermill.parameterize import parameterize_notebook  # noqa: E402

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_parameters_cell_then_budget_and_nothing_rereads_the_environment(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged 'parameters'"
    i = tagged[0]
    assert "budget" in nb.cells[i + 1].metadata.get("tags", []), "the cell after it computes the budgets"
    for cell in nb.cells[i + 1:]:
        if cell.cell_type == "code":
            for needle in ("get_mode(", "RNNLAB_MODE", "os.environ"):
                assert needle not in cell.source, f"a later cell reads {needle}: it would undo papermill's -p"


def run_until_budget(path, parameters, env_mode="full"):
    """papermill's injection, then the notebook's cells up to its budget cell -> the budgets, as the kernel has them"""
    nb = parameterize_notebook(load_notebook_node(str(path)), parameters)     # what papermill -p does
    last = next(i for i, c in enumerate(nb.cells) if "budget" in c.metadata.get("tags", []))
    names = ", ".join(f"'{k}': {k}" for k in ("MODE", "SAMPLE_CHARS", "TEMP_TRAIN_ITERATIONS"))
    nb.cells = [c for c in nb.cells[:last + 1] if c.cell_type == "code"] + \
        [nbformat.v4.new_code_cell(f"import json; print(json.dumps({{{names}}}))")]
    env = {**os.environ, "RNNLAB_MODE": env_mode}
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                   env=env).execute()
    return json.loads(nb.cells[-1].outputs[0]["text"])


def test_papermill_mode_reaches_the_budgets():
    path = PROJECT_ROOT / "notebooks" / "03_temperature_sampling.ipynb"
    assert run_until_budget(path, {}) == {"MODE": "full", "SAMPLE_CHARS": 3000, "TEMP_TRAIN_ITERATIONS": 2500}
    assert run_until_budget(path, {"MODE": "quick"}) == {"MODE": "quick", "SAMPLE_CHARS": 1000,
                                                          "TEMP_TRAIN_ITERATIONS": 400}
    assert run_until_budget(path, {"MODE": "quick", "TEMP_TRAIN_ITERATIONS": 7})["TEMP_TRAIN_ITERATIONS"] == 7
