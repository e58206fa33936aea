"""The lessons, one module each: ``notebooks/NN_<name>.ipynb`` is ``labutils/lessons/<name>.py`` (for
01_bptt_derivation, ``labutils.lessons.bptt_derivation``), which holds what the notebook's cells refer to:

    Budget      the notebook's budgets, full- and quick-mode values (a ``labutils.config.LessonBudget``);
                its budget cell is ``BUDGET = Budget.for_mode(MODE, globals())``, the same in every notebook
    CHECKS      its checks (``labutils.checks.Check``), one per check cell, keyed by the cell's grade_id
    REFERENCES  which labutils object re-implements each exercise, "module:name" (the grader withholds those
                from the sandbox and flags their use); ``PROBES_NEED``: those its probes need themselves

A new notebook adds its module here (``python -m labutils new-lesson NN_name`` writes one); nothing shared is
edited. The NumPy lessons' modules never import torch.
"""
import importlib
from pathlib import Path
from typing import Dict, FrozenSet, Optional, Type

from labutils.checks.framework import Check
from labutils.config import LessonBudget

__all__ = ["BUDGET_CELL", "budget_of", "checks_of", "find_check", "lesson_module", "references_of",
           "withheld_references"]

# Every notebook's budget cell, word for word (tests/test_papermill.py holds them to it)
BUDGET_CELL = ("# The budgets of this run: the mode's, each one given above (not None) in its place\n"
               "BUDGET = Budget.for_mode(MODE, globals())\nprint(BUDGET)")


def lesson_module(notebook) -> str:
    """The module of a notebook's lesson: '01_bptt_derivation' (a stem, file name or path) ->
    'labutils.lessons.bptt_derivation'."""
    number, _, name = Path(str(notebook)).stem.partition("_")
    if not (number.isdigit() and name.isidentifier()):
        raise ValueError(f"{notebook!r} is not a lesson notebook's name (NN_name.ipynb, name a Python identifier)")
    return f"{__name__}.{name}"


def _module(notebook):
    """A notebook's lesson module, or None if it has none (or its name is not a lesson's)."""
    try:
        module_name = lesson_module(notebook)
    except ValueError:
        return None
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        return None


def budget_of(notebook) -> Optional[Type[LessonBudget]]:
    """The Budget dataclass of a notebook's lesson; None for a notebook without one."""
    return getattr(_module(notebook), "Budget", None)


def checks_of(notebook) -> Dict[str, Check]:
    """{grade_id: Check} of a notebook's checks; {} for a notebook without checks."""
    return {check.grade_id: check for check in getattr(_module(notebook), "CHECKS", ())}


def references_of(notebook) -> Dict[str, str]:
    """{exercise grade_id: "module:name"} of the labutils objects that re-implement a notebook's exercises."""
    return dict(getattr(_module(notebook), "REFERENCES", {}))


def withheld_references(notebook) -> FrozenSet[str]:
    """The "module:name" references the sandbox's labutils replaces by stubs while the notebook is graded: all
    of references_of(notebook) except those its probes need themselves (the module's ``PROBES_NEED``)."""
    module = _module(notebook)
    return frozenset(references_of(notebook).values()) - frozenset(getattr(module, "PROBES_NEED", ()))


def find_check(grade_id: str, notebook) -> Check:
    """The Check of a check cell's grade_id in a notebook; KeyError saying where it belongs if there is none."""
    checks = checks_of(notebook)
    if grade_id not in checks:
        raise KeyError(f"no check {grade_id!r} for {Path(str(notebook)).stem}: define it in "
                       f"{lesson_module(notebook).replace('.', '/')}.py and list it in that module's CHECKS")
    return checks[grade_id]
