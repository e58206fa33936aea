"""Student-facing checks, one module per lesson: ``notebooks/NN_<name>.ipynb`` has its checks in
``labutils/checks/<name>.py`` (for 01_bptt_derivation, ``labutils.checks.bptt_derivation``), listed in that
module's ``CHECKS``, with ``REFERENCES``: which labutils object re-implements each exercise (the grader
withholds those from the sandbox and flags their use). A new notebook adds its own module; nothing shared is
edited.

    framework   how a check works (Check, run_check, fallback, assert_close and its one tolerance policy)
    wire        what crosses the sandbox's boundary (plain data, packed and unpacked)
    replay      earlier exercises as recorded answers, while a check is graded
    numpy_rnn   what the NumPy lessons' checks share; tensors: what the PyTorch lessons' checks share

The NumPy lessons' modules never import torch.
"""
import importlib
from pathlib import Path
from typing import Dict, FrozenSet

from labutils.checks.framework import Check, assert_close, fallback

__all__ = ["Check", "assert_close", "checks_of", "fallback", "find_check", "lesson_module", "references_of",
           "withheld_references"]


def lesson_module(notebook) -> str:
    """The module of a notebook's checks: '01_bptt_derivation' (a stem, file name or path) ->
    'labutils.checks.bptt_derivation'."""
    number, _, name = Path(str(notebook)).stem.partition("_")
    if not (number.isdigit() and name.isidentifier()):
        raise ValueError(f"{notebook!r} is not a lesson notebook's name (NN_name.ipynb, name a Python identifier)")
    return f"{__name__}.{name}"


def _module(notebook):
    """A notebook's checks module, or None if it has none (or its name is not a lesson's)."""
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


def checks_of(notebook) -> Dict[str, Check]:
    """{grade_id: Check} of a notebook's checks; {} for a notebook without a checks module."""
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
