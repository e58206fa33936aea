import json

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from labutils import results
from labutils.runner import run_notebooks


def test_record_writes_file(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    monkeypatch.setenv(results.RESULTS_ENV, str(path))
    assert results.record("loss", np.float64(1.5)) == 1.5
    assert json.loads(path.read_text())["loss"] == 1.5
    with pytest.raises(ValueError, match="non-finite"):
        results.record("bad", float("nan"))
    with pytest.raises(TypeError):
        results.record("bad", [1, 2])


def _nb(path, *sources):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, path)
    return path


def test_runner_reports_results_and_failures(tmp_path):
    ok = _nb(tmp_path / "01_ok.ipynb",
             "import os\nfrom labutils import record\nrecord('mode', os.environ['RNNLAB_MODE'])")
    bad = _nb(tmp_path / "02_bad.ipynb", "x = 1", "assert x == 2, 'x should be 2'")
    report = run_notebooks([ok, bad], tmp_path / "build", mode="quick", timeout=60)
    assert report["01_ok"]["status"] == "ok" and report["01_ok"]["results"] == {"mode": "quick"}
    assert report["02_bad"]["status"] == "failed"
    assert report["02_bad"]["error"] == {"cell": 1, "error": "AssertionError: x should be 2"}
    assert json.loads((tmp_path / "build" / "results.json").read_text()) == report
    summary = (tmp_path / "build" / "summary.md").read_text()
    assert "| 01_ok | ok |" in summary and "02_bad failed** at cell 1" in summary
    assert (tmp_path / "build" / "html" / "02_bad.html").exists()
    assert (tmp_path / "build" / "executed" / "01_ok.ipynb").exists()


def test_no_cell_time_limit_unless_one_is_set(tmp_path, monkeypatch):
    """Training is bounded by steps: a slow laptop takes longer, and make run waits for it; a limit is opt-in."""
    import inspect

    from labutils import __main__, runner
    assert inspect.signature(run_notebooks).parameters["timeout"].default is None
    slow = _nb(tmp_path / "01_slow.ipynb", "import time\nfor i in range(3):\n    print(f'step {i}')\n    time.sleep(1)")
    assert run_notebooks([slow], tmp_path / "a", mode="quick")["01_slow"]["status"] == "ok"
    limited = run_notebooks([slow], tmp_path / "b", mode="quick", timeout=1)["01_slow"]
    assert limited["status"] == "failed" and limited["error"]["cell"] == 0
    seen = []
    monkeypatch.setattr(runner, "run_notebooks", lambda paths, out, mode, timeout: seen.append(timeout) or {})
    assert __main__.main(["run", str(slow), "--out", str(tmp_path / "c")]) == 0 and seen == [None]


def test_two_runs_cannot_share_a_build_folder(tmp_path):
    from labutils.runner import BuildFolderBusy, build_lock
    ok = _nb(tmp_path / "01_ok.ipynb", "x = 1")
    with build_lock(tmp_path / "build"):
        with pytest.raises(BuildFolderBusy, match="another run is writing into"):
            run_notebooks([ok], tmp_path / "build", mode="quick")
    assert run_notebooks([ok], tmp_path / "build", mode="quick")["01_ok"]["status"] == "ok"


def test_a_full_run_lists_the_measured_figures_its_text_states_but_does_not_print(tmp_path):
    from nbformat.v4 import new_markdown_cell
    nb = new_notebook(cells=[new_code_cell("print('accuracy 0.9355')"),
                             new_markdown_cell("about 0.94<!-- measured --> of it, not 0.99<!-- measured -->")],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, tmp_path / "01_text.ipynb")
    report = run_notebooks([tmp_path / "01_text.ipynb"], tmp_path / "build", mode="full", timeout=60)
    assert report["01_text"]["unprinted_claims"] == [{"cell": 1, "claim": "0.99"}]
    assert "no output printed**: 0.99 (cell 1)" in (tmp_path / "build" / "summary.md").read_text()
