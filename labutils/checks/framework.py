"""How a check works: one description per check, shared by the notebook and the grader, so the two cannot drift.

A ``Check`` has three parts:

* ``cases(seed)``: the inputs, as plain data (arrays, numbers, strings, lists, dicts). Trusted side.
* ``probe(fns, case)``: calls the student's functions on one case and returns what they gave, as plain
  data. This is the only part that runs the student's code.
* ``verify(case, outputs)``: computes the reference on the same inputs and raises ``AssertionError`` with
  a message that names the bug (``assert_close`` for arrays and tensors). Trusted side.

In a notebook, ``run_check`` does all three in the student's kernel (immediate feedback). When grading, the
sandbox runs only ``probe`` (``labutils.grading.probe``) and the grader runs ``verify`` in its own process on
what came back (``labutils.checks.wire``). ``fallback`` lets later cells use the reference while an exercise
fails its check.
"""
import contextlib
import functools
import sys
import traceback
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from labutils.checks.wire import roundtrip
from labutils.gradcheck import rel_error


@dataclass(frozen=True)
class Check:
    grade_id: str                          # the nbgrader grade_id of the check cell
    uses: tuple                            # names of the student's functions (or classes) the probe calls
    cases: Callable                        # seed -> list of plain dicts
    probe: Callable                        # (fns: {name: callable}, case) -> plain outputs
    verify: Callable                       # (case, outputs) -> None, or AssertionError naming the bug
    passed: str                            # printed when every case passes
    references: Callable = field(default=dict)   # () -> {name: reference} for earlier exercises (see below)
    reference: Callable = None             # () -> the reference of the checked function, to record its calls
    given: Callable = None                 # case -> what the probe needs from the reference (plain data)


# ---- running a check ------------------------------------------------------------------------------------

@contextlib.contextmanager
def substituted(namespace, replacements):
    """Temporarily bind ``replacements`` in ``namespace`` (a module's or notebook's globals).

    A check of rnn_forward runs with the reference rnn_step_forward in place of the student's, so each
    check tests its own exercise and a bug in an earlier one is not charged twice.
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def not_implemented_message(err, fns):
    """'rnn_forward is not implemented yet ...', naming the function that raised it."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    raised_in = tb.tb_frame.f_code.co_name if tb is not None else "<module>"
    called = list(fns)[-1] if fns else "the exercise"          # the exercise this check is about
    if raised_in in fns:
        where = raised_in
    elif raised_in.startswith("<"):
        where = called
    else:
        where = f"{raised_in} (called by {called})"
    return (f"{where} is not implemented yet: write it in its exercise cell, in place of "
            "`raise NotImplementedError()` under `# YOUR CODE HERE`")


def namespace_of(fns):
    """The globals the student's functions see (the notebook's namespace), or a scratch dict."""
    for fn in fns.values():
        g = getattr(fn, "__globals__", None)
        if g is None:
            g = getattr(getattr(fn, "__init__", None), "__globals__", None)
        if isinstance(g, dict):
            return g
    return {}


def run_probe(check, fns, case, namespace, references=None):
    """Call the student's code on one case with earlier exercises replaced by the reference -> plain outputs.

    references: what stands in for the earlier exercises (default ``check.references()``; when grading, the
    ``Replay`` of the reference's recorded answers, because the sandbox has no reference to run)."""
    with substituted(namespace, check.references() if references is None else references):
        return check.probe(fns, case)


def lazy(target):
    """() -> the object named "module:name", imported only when called (a check module stays light)."""
    def load():
        import importlib
        module, name = target.split(":")
        return getattr(importlib.import_module(module), name)
    return load


def prepared(check, case):
    """case with ``given``: what the probe needs from the reference (an earlier exercise's output that the
    checked function is run on), computed where the reference is: in the notebook, or by the grader."""
    return {**case, "given": check.given(case)} if check.given is not None else case


# The outcome of the last check of each student function (the last one a check names is the exercise it
# checks), so that later cells use the reference while it fails (``labutils.checks.fallback``).
OUTCOMES = weakref.WeakKeyDictionary()


def outcome(fn):
    """True (passed its check), False (failed it) or None (not checked since it was defined)."""
    try:
        return OUTCOMES.get(fn)
    except TypeError:                    # not weak-referenceable: never recorded
        return None


def _record(fn, passed):
    try:
        OUTCOMES[fn] = passed
    except TypeError:
        pass


def run_check(check, fns, seed=0):
    """The notebook path: cases, probe and verify in this process. fns: the student's functions, in the
    order of ``check.uses``. Prints ``check.passed`` or raises AssertionError / NotImplementedError, shown as
    one message (``brief``)."""
    if len(fns) != len(check.uses):
        raise TypeError(f"{check.grade_id} takes {len(check.uses)} function(s): {', '.join(check.uses)}")
    checked = fns[-1]
    fns = dict(zip(check.uses, fns))
    namespace = namespace_of(fns)
    try:
        for case in check.cases(seed):
            case = prepared(check, case)
            try:
                outputs = run_probe(check, fns, case, namespace)
            except NotImplementedError as err:
                raise brief(NotImplementedError(not_implemented_message(err, fns))) from None
            except Exception as err:   # noqa: BLE001 - the student's code raised: show its frames, not the check's
                raise your_frames_only(err)
            try:
                check.verify(case, roundtrip(outputs))
            except AssertionError as err:
                raise brief(err) from None
    except BaseException:
        _record(checked, False)
        raise
    _record(checked, True)
    print(check.passed)


# ---- how a failure looks in a notebook --------------------------------------------------------------------
# IPython shows an exception through its ``_render_traceback_`` when it has one: a check's verdict is its one
# message (the frames through labutils would bury it, and a check's own lines can be the answer).
LABUTILS_DIR = str(Path(__file__).resolve().parents[1])
LIBRARY_DIRS = tuple({str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


def brief(err):
    """err, shown in a notebook as ``AssertionError: <message>`` alone."""
    text = f"{'AssertionError' if isinstance(err, AssertionError) else type(err).__name__}: {err}"
    err._render_traceback_ = lambda: [text]
    return err


def your_frames_only(err):
    """err (raised by the student's code during a check), shown with the student's own frames only: none of
    labutils, the standard library or installed packages."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not f.filename.startswith((LABUTILS_DIR,) + LIBRARY_DIRS)]
    lines = ["Traceback (your code; the check's frames are not shown):"]
    lines += [line.rstrip("\n") for line in traceback.format_list(frames)]
    lines += [line.rstrip("\n") for line in traceback.format_exception_only(type(err), err)]
    try:
        err._render_traceback_ = lambda: lines
    except AttributeError:                 # an exception type without a __dict__: IPython's usual traceback
        pass
    return err


def fallback(student_fn: Callable, reference_fn: Callable, checked=None) -> Callable:
    """student_fn, or reference_fn (with a one-time note) while an exercise is unfinished or fails its check.

    checked: the student's functions whose checks decide (default: student_fn itself). Later cells use
    this so that one unfinished or wrong exercise neither stops the rest of the notebook nor silently
    spoils its results; the student's own version is used once its check passes.
    """
    checked = [student_fn] if checked is None else list(checked)

    def note(why):
        if not wrapper.used_reference:
            wrapper.used_reference = True
            print(f"note: {why}, so this cell uses the labutils reference; your own version will be used once "
                  "it passes its check")

    @functools.wraps(student_fn)
    def wrapper(*args, **kwargs):
        failing = [getattr(fn, "__name__", "?") for fn in checked if outcome(fn) is False]
        if failing:
            note(f"your {', '.join(failing)} does not pass its check yet")
            return reference_fn(*args, **kwargs)
        try:
            return student_fn(*args, **kwargs)
        except NotImplementedError:
            note(f"{student_fn.__name__} is not implemented yet")
            return reference_fn(*args, **kwargs)
    wrapper.used_reference = False
    return wrapper


# ---- small helpers for verify functions -----------------------------------------------------------------

def kind(x):
    """What came back, in words, for messages."""
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    if isinstance(x, dict) and set(x) == {"__object__"}:
        return f"a {x['__object__']}"
    return f"a {type(x).__name__}"


def expect_tuple(got, n, what):
    if not isinstance(got, (tuple, list)) or len(got) != n:
        raise AssertionError(f"return {what} ({n} values), not {kind(got)}")
    return got


def expect_array(got, name):
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        return np.asarray(got, dtype=float)
    if not isinstance(got, np.ndarray):
        raise AssertionError(f"{name} should be an array, not {kind(got)}")
    return got


# ---- comparing arrays and tensors -----------------------------------------------------------------------
# One policy for every check: the error is the normwise relative error ||got - expected|| / (||got|| +
# ||expected||) of the whole array (``gradcheck.rel_error``: entries that are both ~0 add no rounding noise),
# and it must be below a tolerance set by the precision of the expected values: 1e-7 in float64 (the NumPy
# cases, and a finite-difference check would miss that by ~2e-7), 1e-5 in float32 (PyTorch's default, whose
# rounding alone is ~1e-7 per operation). A check that needs another says so with tol= and a comment.
TOLERANCES = {"float64": 1e-7, "float32": 1e-5}


def as_array(x, name="the value"):
    """An ndarray (float64 unless float32) from an array, a tensor, or a number; AssertionError otherwise."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):              # a tensor, without importing torch
        x = x.detach().cpu().numpy()
    x = expect_array(x, name)
    return x if x.dtype == np.float32 else x.astype(np.float64)


def default_tol(expected) -> float:
    """The policy's tolerance for these expected values (float32 or not)."""
    return TOLERANCES["float32"] if as_array(expected).dtype == np.float32 else TOLERANCES["float64"]


def close_error(got, expected) -> float:
    """The policy's error of got against expected (inf where shapes differ or got is not finite)."""
    got, expected = as_array(got), as_array(expected)
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return float("inf")
    return rel_error(got, expected)


def is_close(got, expected, tol: float = None) -> bool:
    """Whether got passes assert_close (for diagnoses: "does it match what a known bug computes?")."""
    return close_error(got, expected) < (default_tol(expected) if tol is None else tol)


def assert_close(name: str, got: Any, expected: Any, tol: float = None, hint: str = "") -> float:
    """AssertionError naming ``name`` unless ``got`` matches ``expected``: the shape, then finite values, then
    the relative error below ``tol`` (the policy above by default) -> the error. NumPy arrays, tensors, numbers."""
    got, expected = as_array(got, name), as_array(expected)
    tol = default_tol(expected) if tol is None else tol
    if got.shape != expected.shape:
        raise AssertionError(f"{name} has shape {got.shape}, expected {expected.shape}. {hint}".strip())
    if not np.all(np.isfinite(got)):
        raise AssertionError(f"{name} contains NaN or inf. {hint}".strip())
    err = rel_error(got, expected)
    if not err < tol:
        raise AssertionError(f"{name} is wrong: relative error {err:.2e} (should be < {tol:.0e}). {hint}".strip())
    return err

