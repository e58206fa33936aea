"""``python -m labutils new-lesson NN_name "Title"``: the skeleton of a new lesson, the files CONTRIBUTING.md's
recipe lists, so that ``run``, ``release``, ``grade`` and ``site`` pick it up with no edit to a shared file:

    notebooks/NN_name.ipynb     heading and badge, Colab setup, parameters and budget cells, one exercise with its
                                check, the reference fallback, a measured result with its assert, questions and
                                answers
    labutils/lessons/name.py    its Budget, its Check, CHECKS and REFERENCES
    labutils/name.py            the reference code the exercise re-implements

The example exercise (an exponential moving average, the simplest linear recurrence) runs, grades and passes as
written; replace it with the lesson's own.
"""
import keyword
import re
from pathlib import Path
from typing import List

import nbformat

from labutils.atomic import atomic_path
from labutils.badges import SETUP_TAG, badge_url, setup_source
from labutils.config import PROJECT_ROOT, REPO
from labutils.lessons import BUDGET_CELL

_STEM = re.compile(r"^(\d\d)_([a-z][a-z0-9_]*)$")


def _names(stem):
    match = _STEM.match(stem)
    if not match or keyword.iskeyword(match.group(2)):
        raise ValueError(f"{stem!r} is not a lesson's name: give NN_name, NN two digits and name a lower-case "
                         "Python identifier, e.g. 10_parallel_scan")
    return match.group(1), match.group(2)


LESSON_MODULE = '''"""Notebook {number}'s lesson: its budgets (Budget), checks and references (see labutils.lessons)."""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from labutils.checks.framework import Check, assert_close, expect_array, run_check
from labutils.config import LessonBudget, per_mode


@dataclass(frozen=True)
class Budget(LessonBudget):
    """Notebook {number}'s budgets: the full-mode value, then the quick-mode one (``make test``)."""
    steps: int = per_mode(20_000, 2_000)   # time steps of the demonstration sequence


def _cases(seed):
    rng = np.random.default_rng(seed)
    sizes = ((50, 3, 0.9), (1, 1, 0.5), (7, 4, 0.0))       # T, D, decay: a long one, the smallest, decay 0
    return [dict(x=rng.standard_normal((T, D)), decay=decay) for T, D, decay in sizes]


def _verify(case, got):
    from labutils.{name} import moving_average
    expected = moving_average(np.array(case["x"]), case["decay"])
    assert_close("h", expect_array(got, "moving_average's output"), expected,
                 hint="h_t = decay * h_(t-1) + (1 - decay) * x_t, starting from h_(-1) = 0")


MOVING_AVERAGE = Check(
    "check_moving_average", ("moving_average",), _cases,
    probe=lambda fns, case: fns["moving_average"](np.array(case["x"]), case["decay"]),
    verify=_verify, passed="moving_average OK on 3 random sequences")


def check_moving_average(fn: Callable, seed: int = 7) -> None:
    """fn(x (T, D), decay) -> h (T, D)."""
    run_check(MOVING_AVERAGE, [fn], seed)


CHECKS = (MOVING_AVERAGE,)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {{"moving_average": "labutils.{name}:moving_average"}}
'''

REFERENCE_MODULE = '''"""Notebook {number}'s reference code: what its exercises re-implement (shapes in docstrings)."""
import numpy as np


def moving_average(x: np.ndarray, decay: float) -> np.ndarray:
    """x: (T, D), decay in [0, 1) -> h (T, D), h_t = decay * h_(t-1) + (1 - decay) * x_t from h_(-1) = 0."""
    x = np.asarray(x, dtype=np.float64)
    h, out = np.zeros(x.shape[1:]), np.empty_like(x)
    for t in range(len(x)):
        h = decay * h + (1 - decay) * x[t]
        out[t] = h
    return out
'''


def _notebook(number, name, title, repo):
    stem = f"{number}_{name}"
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    grader = dict(locked=False, schema_version=3)
    cells = [
        md(f"# {number} · {title}\n"
           f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({badge_url(repo, stem)})\n\n"
           "One paragraph: what this notebook shows, and why it matters.\n\n"
           "**What you will learn**\n* the first idea;\n* the second.\n\n"
           "**Time:** about 30 minutes (the cells run in under a minute on a laptop CPU).\n\n"
           "Run the cells one at a time, top to bottom; each exercise is followed by a check that says what is "
           "wrong, by how much, and where to look."),
        code(setup_source(repo), metadata={"tags": [SETUP_TAG]}),
        code("import matplotlib.pyplot as plt\nimport numpy as np\n\n"
             f"from labutils import record, set_seed\nfrom labutils import {name} as reference\n"
             "from labutils.checks import fallback\nfrom labutils.config import check_result, get_mode\n"
             f"from labutils.lessons.{name} import Budget, check_moving_average\n\n"
             'MODE = get_mode()          # "full" (default) or "quick", from RNNLAB_MODE; papermill: -p MODE quick\n'
             "DECAY = 0.9\n"
             "# Budgets: None takes the mode's value (Budget, printed below); papermill: -p NAME VALUE\n"
             "STEPS = None  # time steps of the demonstration sequence",
             metadata={"tags": ["parameters"]}),
        code(BUDGET_CELL, metadata={"tags": ["budget"]}),
        code("set_seed(0)"),
        md("## 1. The exercise\n\n$h_t = \\lambda h_{t-1} + (1 - \\lambda) x_t$, from $h_{-1} = 0$.\n\n"
           "**Exercise.** Write `moving_average(x, decay)` for `x` of shape (T, D)."),
        code('def moving_average(x, decay):\n    """x: (T, D), decay in [0, 1) -> h (T, D)"""\n'
             "    # HINT: one loop over t; h starts at zeros(D).\n    ### BEGIN SOLUTION\n"
             "    h, out = np.zeros(x.shape[1:]), np.empty_like(x, dtype=np.float64)\n    for t in range(len(x)):\n"
             "        h = decay * h + (1 - decay) * x[t]\n        out[t] = h\n    return out\n    ### END SOLUTION",
             metadata={"nbgrader": dict(grader, grade=False, grade_id="moving_average", solution=True)}),
        code("check_moving_average(moving_average)\n### BEGIN HIDDEN TESTS\n"
             "check_moving_average(moving_average, seed=3001)\n### END HIDDEN TESTS",
             metadata={"nbgrader": dict(grader, grade=True, grade_id="check_moving_average", points=1,
                                        solution=False, locked=True)}),
        md("## 2. What it does, measured\n\nThe average of noise is quieter than the noise: its variance falls by "
           "$(1 - \\lambda) / (1 + \\lambda)$."),
        code("moving_average = fallback(moving_average, reference.moving_average)\n"
             "x = np.random.default_rng(1).standard_normal((BUDGET.steps, 1))\n"
             "h = moving_average(x, DECAY)\n"
             "ratio = record(\"variance_ratio\", float(h[len(h) // 10:].var() / x.var()))   # past the start-up\n"
             "expected = (1 - DECAY) / (1 + DECAY)\n"
             "fig, ax = plt.subplots(figsize=(10, 3))\n"
             "ax.plot(x[:300, 0], lw=0.5, label=\"x (noise)\")\n"
             "ax.plot(h[:300, 0], label=f\"h, decay = {DECAY}\")\n"
             "ax.set(xlabel=\"t\", title=f\"variance ratio {ratio:.3f} (theory {expected:.3f})\")\n"
             "ax.legend()\nplt.show()\n"
             "check_result(abs(ratio - expected) < 0.5 * expected,\n"
             "             f\"the variance ratio {ratio:.3f} should be near {expected:.3f}\", BUDGET.given)"),
        md("## Questions to think about\n\n1. What does `decay = 0` give, and what does `decay -> 1`?"),
        md("**Answer 1.** `decay = 0` copies the input; as decay approaches 1 the average remembers longer and "
           "moves slower.",
           metadata={"nbgrader": dict(grader, grade=True, grade_id="answer_q1", points=1, solution=True)}),
        md("## Summary\n\n* What the run measured, in one line each."),
    ]
    ids = ["cell-01", "colab-setup", "cell-02", "budget", "setup", "cell-03", "moving-average",
           "check-moving-average", "cell-04", "cell-05", "cell-06", "answer-q1", "cell-07"]
    for cell, cell_id in zip(cells, ids):
        cell["id"] = cell_id
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    return nb


def new_lesson(stem: str, title: str, root: Path = PROJECT_ROOT, repo: str = REPO) -> List[Path]:
    """Write a new lesson's three files under root -> their paths. Refuses (FileExistsError) to overwrite any."""
    number, name = _names(stem)
    root = Path(root)
    if not ((root / "notebooks").is_dir() and (root / "labutils" / "lessons").is_dir()):
        raise ValueError(f"{root} is not a checkout of the course (no notebooks/ and labutils/lessons/ there): "
                         "new-lesson writes into a checkout; clone the course repository and run it there")
    paths = [root / "notebooks" / f"{stem}.ipynb", root / "labutils" / "lessons" / f"{name}.py",
             root / "labutils" / f"{name}.py"]
    taken = [p for p in paths if p.exists()] + sorted((root / "notebooks").glob(f"{number}_*.ipynb"))
    if taken:
        raise FileExistsError(f"{taken[0]} exists: choose another number or name (nothing was written)")
    texts = [None, LESSON_MODULE.format(number=number, name=name), REFERENCE_MODULE.format(number=number)]
    for path, text in zip(paths, texts):
        with atomic_path(path) as tmp:
            if text is None:
                nbformat.write(_notebook(number, name, title, repo), tmp)
            else:
                Path(tmp).write_text(text, encoding="utf-8")
    return paths
