"""The grader's kernel-less runner: the outputs a Jupyter kernel gives, and a child that a submission can end,
hang or flood without taking the other cells with it."""
import time

import nbformat
import pytest

from labutils.execute import execute
from labutils.grading.interpreter import KERNEL_DIED, OUTPUT_LIMIT, run_notebook


def notebook(*sources):
    return {"cells": [{"id": f"c{i}", "cell_type": "code", "source": s, "metadata": {}, "outputs": [],
                       "execution_count": None} for i, s in enumerate(sources)]
            + [{"id": "text", "cell_type": "markdown", "source": "text", "metadata": {}}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def outputs(nb):
    return [c["outputs"] for c in nb["cells"] if c["cell_type"] == "code"]


def essentials(outs):
    """What the grader reads of a cell's outputs: streams, results' text, errors' names and values."""
    kept = []
    for o in outs:
        if o["output_type"] == "stream" and "Warning: " not in o["text"]:   # warnings: once per process
            kept.append((o["name"], o["text"]))
        elif o["output_type"] in ("execute_result", "display_data"):
            kept.append((o["output_type"], o["data"].get("text/plain")))
        elif o["output_type"] == "error":
            kept.append(("error", o["ename"], o["evalue"]))
    return kept


FAITHFUL = ["x = 1\nprint('a'); print('b')", "x + 41", "display({'k': x})", "1 / 0", "import sys\nsys.exit(3)",
            "def f(n):\n    return [i * x for i in range(n)]\nf(3)", "print(x, file=sys.stderr)",
            "%time y = x\nprint(y)", "assert x == 2, 'x is not 2'", "None", "x = 2;"]


def test_cells_give_what_a_jupyter_kernel_gives(tmp_path):
    ours = run_notebook(notebook(*FAITHFUL), timeout=30)
    kernel = execute(nbformat.from_dict(notebook(*FAITHFUL)), tmp_path, timeout=30, robust=True)
    theirs_all = [c.outputs for c in kernel.cells if c.cell_type == "code"]
    for source, mine, theirs in zip(FAITHFUL, outputs(ours), theirs_all):
        if source.startswith("%time"):                 # a magic: its timings differ, what the cell prints does not
            assert "".join(o.get("text", "") for o in mine).endswith("\n1\n")
            continue
        assert essentials(mine) == essentials(theirs), source
    counts = [c["execution_count"] for c in ours["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(FAITHFUL) + 1))
    nbformat.validate(nbformat.from_dict(ours))       # the grader reads it with nbformat


def test_a_cell_that_ends_the_interpreter_costs_only_that_cell():
    nb = run_notebook(notebook("x = 5", "import os\nos._exit(1)", "print(x)"), timeout=30)
    died, after = outputs(nb)[1:]
    assert essentials(died) == [("error", "RuntimeError", KERNEL_DIED)]
    assert essentials(after) == [("stdout", "5\n")]


def test_a_cell_past_its_time_is_interrupted_and_the_next_cells_run():
    start = time.monotonic()
    nb = run_notebook(notebook("x = 5", "while True:\n    x += 0", "print(x)"), timeout=1)
    assert time.monotonic() - start < 10
    slow, after = outputs(nb)[1:]
    assert [o["ename"] for o in slow if o["output_type"] == "error"] == ["TimeoutError"]
    assert essentials(after) == [("stdout", "5\n")]


def test_a_cell_that_ignores_the_interrupt_is_killed_and_replaced_by_a_timeout():
    nb = run_notebook(notebook("x = 5", "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                        "while True:\n    pass", "print(x)"), timeout=1)
    slow, after = outputs(nb)[1:]
    assert [o["ename"] for o in slow] == ["TimeoutError"]
    assert essentials(after) == [("stdout", "5\n")]


def test_a_cell_that_catches_the_interrupt_is_killed_too():
    nb = run_notebook(notebook("n = 0\nwhile True:\n    try:\n        n += 1\n    except BaseException:\n        pass",
                               "print('next')"), timeout=1)
    assert [o["ename"] for o in outputs(nb)[0]] == ["TimeoutError"]
    assert essentials(outputs(nb)[1]) == [("stdout", "next\n")]


def test_output_is_capped_per_cell():
    nb = run_notebook(notebook("for i in range(100_000):\n    print('x' * 20)", "print('fine')"), timeout=30)
    flood, fine = outputs(nb)
    assert sum(len(o.get("text", "")) for o in flood) <= OUTPUT_LIMIT + 100
    assert "truncated by the grader" in flood[-1]["text"]
    assert essentials(fine) == [("stdout", "fine\n")]


PIPES = ("import os\npipes = []\nfor fd in os.listdir('/proc/self/fd'):\n    try:\n"
         "        if int(fd) > 2 and os.readlink(f'/proc/self/fd/{fd}').startswith('pipe:'):\n"
         "            pipes.append(int(fd))\n    except OSError:\n        pass\n")


@pytest.mark.parametrize("attack", [
    PIPES + "for fd in pipes:\n    os.write(fd, b'{not json\\n')",
    PIPES + "for fd in pipes:\n    os.write(fd, b'x' * 2_000_000)",
    PIPES + "for fd in pipes:\n    os.close(fd)",
])
def test_a_cell_that_writes_into_or_closes_the_runners_pipe_costs_only_that_cell(attack):
    nb = run_notebook(notebook("x = 5", attack, "print(x)"), timeout=5)
    broken, after = outputs(nb)[1:]
    assert [o.get("ename") for o in broken] == ["RuntimeError"]
    assert essentials(after) == [("stdout", "5\n")]


def test_the_cells_hold_no_file_of_the_runners_but_their_pipe():
    nb = run_notebook(notebook("import os\nprint(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))"), timeout=5)
    fds = eval(outputs(nb)[0][0]["text"])
    assert len(fds) == 5 and fds[:3] == [0, 1, 2]   # the standard three, the message pipe, listdir's own


def test_a_cell_that_keeps_ending_the_interpreter_stops_the_restarts():
    sources = [f"import os\nos._exit({i})" for i in range(1, 7)] + ["print('end')"]
    nb = run_notebook(notebook(*sources), timeout=5)
    died = [essentials(o) == [("error", "RuntimeError", KERNEL_DIED)] for o in outputs(nb)]
    assert died[:4] == [True] * 4                  # MAX_RESTARTS = 3: four cells replaced, then the run ends
    assert outputs(nb)[-1] == []
