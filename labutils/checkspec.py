"""One description per check, shared by the notebook and the grader, so the two cannot drift.

A ``Check`` has three parts:

* ``cases(seed)``: the inputs, as plain data (arrays, numbers, strings, lists, dicts). Trusted side.
* ``probe(fns, case)``: calls the student's functions on one case and returns what they gave, as plain
  data. This is the only part that runs the student's code.
* ``verify(case, outputs)``: computes the reference on the same inputs and raises ``AssertionError`` with
  a message that names the bug. Trusted side.

In a notebook, ``run_check`` does all three in the student's kernel (immediate feedback). When grading,
the sandbox runs only ``probe`` (``labutils.grading.probe``) and writes its outputs with ``encode``; the
grader reads them back with ``decode`` (no pickle, sizes capped) and runs ``verify`` in its own process.
The notebook path sends the outputs through the same encode/decode round trip, so both see the same data.
"""
import contextlib
import inspect
import json
import math
import weakref
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

MAX_ARRAY_BYTES = 32_000_000        # all arrays of one check's outputs together
MAX_JSON_CHARS = 2_000_000
MAX_DEPTH = 12
_DTYPES = "biuf"                    # bool, signed and unsigned ints, floats: nothing that can hold code


class OutputError(ValueError):
    """Outputs that cannot be represented as plain data, or are too large."""


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


# ---- plain data ---------------------------------------------------------------------------------------

def plain(obj, depth=0):
    """obj as plain data: arrays (tensors become arrays), numbers, strings, None, lists, tuples, str-keyed dicts.

    Parameter containers with ``items()`` (RNNParams, state dicts) become dicts; anything else becomes
    ``{"__object__": type name}`` so a check can say what came back instead of what it expected.
    """
    if depth > MAX_DEPTH:
        raise OutputError("outputs are nested too deeply")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):            # a torch tensor, without importing torch
        return obj.detach().cpu().numpy()
    if isinstance(obj, (list, tuple)):
        items = [plain(x, depth + 1) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict) or (hasattr(obj, "items") and callable(obj.items)):
        try:
            pairs = list(obj.items())
        except Exception:   # noqa: BLE001 - a student object whose items() fails is just not plain data
            return {"__object__": type(obj).__name__}
        return {str(k): plain(v, depth + 1) for k, v in pairs}
    return {"__object__": type(obj).__name__}


def encode(obj):
    """Plain data -> (JSON text, {key: array}) for ``np.savez``; raises OutputError past the size caps."""
    arrays, total = {}, [0]

    def walk(x, depth):
        if depth > MAX_DEPTH:
            raise OutputError("outputs are nested too deeply")
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in _DTYPES:
                raise OutputError(f"an array of dtype {x.dtype} is not plain numeric data")
            total[0] += x.nbytes
            if total[0] > MAX_ARRAY_BYTES:
                raise OutputError(f"outputs are larger than {MAX_ARRAY_BYTES:,} bytes")
            key = f"a{len(arrays)}"
            arrays[key] = x
            return {"__array__": key}
        if isinstance(x, tuple):
            return {"__tuple__": [walk(v, depth + 1) for v in x]}
        if isinstance(x, list):
            return [walk(v, depth + 1) for v in x]
        if isinstance(x, dict):
            return {str(k): walk(v, depth + 1) for k, v in x.items()}
        if isinstance(x, float) and not np.isfinite(x):
            return {"__float__": repr(x)}
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise OutputError(f"{type(x).__name__} is not plain data")

    text = json.dumps(walk(plain(obj), 0))
    if len(text) > MAX_JSON_CHARS:
        raise OutputError(f"outputs are larger than {MAX_JSON_CHARS:,} characters of JSON")
    return text, arrays


def decode(text, arrays):
    """The inverse of encode. ``arrays`` maps keys to arrays (an open ``np.load(..., allow_pickle=False)``)."""
    if len(text) > MAX_JSON_CHARS:
        raise OutputError("outputs too large")

    def walk(x):
        if isinstance(x, dict):
            if set(x) == {"__array__"}:
                a = np.asarray(arrays[x["__array__"]])
                if a.dtype.kind not in _DTYPES:
                    raise OutputError(f"an array of dtype {a.dtype} is not plain numeric data")
                return a
            if set(x) == {"__tuple__"}:
                return tuple(walk(v) for v in x["__tuple__"])
            if set(x) == {"__float__"}:
                return float(x["__float__"])
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x
    return walk(json.loads(text))


def roundtrip(obj):
    """obj as the grader would see it after the sandbox wrote it."""
    return decode(*encode(obj))


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


# ---- earlier exercises as recorded answers (grading) ----------------------------------------------------
# While a notebook is graded, the sandbox's labutils has no reference of that notebook's exercises (stubs),
# so nothing in the student's process can delegate to one. A check of rnn_forward still runs with the
# reference rnn_step_forward in place of the student's: the grader runs the reference rnn_forward on the case,
# records every call it makes to rnn_step_forward (arguments and answer), and the sandbox answers the
# student's calls from that record. A call the reference never makes goes to the student's own function.

def replayed_names(check):
    """The earlier exercises the checked function calls by itself (not those the probe passes in ``fns``)."""
    return [name for name in check.references() if name not in check.uses]


def _frozen(obj, depth=0):
    """obj as plain data that remembers tensors ({"__torch__": array}), for recorded arguments and answers."""
    if depth > MAX_DEPTH:
        raise OutputError("a recorded call is nested too deeply")
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):
        return {"__torch__": obj.detach().cpu().numpy()}
    if isinstance(obj, (list, tuple)):
        items = [_frozen(x, depth + 1) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict) or (hasattr(obj, "items") and callable(obj.items) and not isinstance(obj, np.ndarray)):
        return {str(k): _frozen(v, depth + 1) for k, v in obj.items()}
    return plain(obj, depth)


def _thawed(obj):
    """A recorded answer as the reference returned it: fresh arrays, tensors again, tuples kept."""
    if isinstance(obj, dict) and set(obj) == {"__torch__"}:
        import torch
        return torch.from_numpy(np.array(obj["__torch__"]))
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, tuple):
        return tuple(_thawed(x) for x in obj)
    if isinstance(obj, list):
        return [_thawed(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _thawed(v) for k, v in obj.items()}
    return obj


def _close(a, b):
    """Same arguments up to rounding (a student's dh_t summed in another order is the reference's dh_t)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype.kind not in _DTYPES or b.dtype.kind not in _DTYPES:
            return False
        return bool(np.array_equal(a, b) if "f" not in a.dtype.kind + b.dtype.kind
                    else np.allclose(a, b, rtol=1e-9, atol=1e-12))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return type(a) is type(b) and a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _signature(fn):
    """[(name, default or None, has default)] of fn's parameters (positional-or-keyword only)."""
    return [(p.name, _frozen(p.default) if p.default is not p.empty else None, p.default is not p.empty)
            for p in inspect.signature(fn).parameters.values()]


def _bind(signature, args, kwargs):
    """{name: value} for a call, as the reference would bind it; TypeError as a function would raise it."""
    params = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                **({"default": default} if has else {})) for name, default, has in signature]
    bound = inspect.Signature(params).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def record_calls(check, case):
    """The calls the reference of the checked function makes to earlier exercises on one case ->
    {name: {"signature": ..., "calls": [(arguments, answer), ...]}} (plain data, for the sandbox)."""
    names = replayed_names(check)
    if not names or check.reference is None:
        return {}
    references, graded = check.references(), check.reference()
    tables = {name: {"signature": _signature(references[name]), "calls": []} for name in names}

    def recorder(name):
        fn = references[name]

        def call(*args, **kwargs):
            answer = fn(*args, **kwargs)
            tables[name]["calls"].append((_frozen(_bind(tables[name]["signature"], args, kwargs)), _frozen(answer)))
            return answer
        return call
    recorders = {name: recorder(name) for name in names}
    fns = {**references, check.uses[-1]: graded}
    fns = {name: fns[name] for name in check.uses}
    case = prepared(check, case)                   # the given data is not a call the checked function makes
    with substituted(namespace_of({"graded": graded}), recorders):
        check.probe(fns, case)
    return tables


class Replay:
    """Stands in for an earlier exercise while a check is graded: the reference's recorded answer for a
    call the reference made, else the student's own function (``own``) on the call."""

    def __init__(self, name, table, own=None):
        self.__name__ = self.__qualname__ = name
        self._signature, self._calls, self._own = table["signature"], table["calls"], own

    def __call__(self, *args, **kwargs):
        arguments = _frozen(_bind(self._signature, args, kwargs))
        for recorded, answer in self._calls:
            if _close(arguments, recorded):
                return _thawed(answer)
        if self._own is None:
            raise NameError(f"{self.__name__} is not defined: its exercise cell did not run, or defines another name "
                            f"(the check called it with arguments the reference never passes, so it needs yours)")
        return self._own(*args, **kwargs)


def replays(check, case, namespace):
    """{name: Replay} for a graded case (``case["calls"]`` from ``record_calls``)."""
    return {name: Replay(name, table, namespace.get(name)) for name, table in (case.get("calls") or {}).items()
            if name in replayed_names(check)}


@contextlib.contextmanager
def replayed_in_modules(check, case):
    """The same recorded answers where each reference lives (in the sandbox, beside its stub), so a call
    through the module (``phased.time_gate(...)``, as a student may call an earlier exercise's reference)
    gets them too; any other call reaches the stub and its message."""
    import sys
    references = check.references() if case.get("calls") else {}
    with contextlib.ExitStack() as stack:
        for name, table in (case.get("calls") or {}).items():
            if name in references and name in replayed_names(check):
                home = sys.modules[references[name].__module__].__dict__
                stack.enter_context(substituted(home, {name: Replay(name, table, references[name])}))
        yield


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
    order of ``check.uses``. Prints ``check.passed`` or raises AssertionError / NotImplementedError."""
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
                raise NotImplementedError(not_implemented_message(err, fns)) from None
            check.verify(case, roundtrip(outputs))
    except BaseException:
        _record(checked, False)
        raise
    _record(checked, True)
    print(check.passed)


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
