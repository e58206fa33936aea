"""Earlier exercises as recorded answers, while a check is graded.

While a notebook is graded, the sandbox's labutils has no reference of that notebook's exercises (stubs),
so nothing in the student's process can delegate to one. A check of rnn_forward still runs with the
reference rnn_step_forward in place of the student's: the grader runs the reference rnn_forward on the case,
records every call it makes to rnn_step_forward (arguments and answer), and the sandbox answers the
student's calls from that record. A call the reference never makes goes to the student's own function.
"""
import contextlib
import inspect
import math

import numpy as np

from labutils.checks.framework import namespace_of, prepared, substituted
from labutils.checks.wire import MAX_DEPTH, PLAIN_DTYPES, OutputError, plain


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
        if a.shape != b.shape or a.dtype.kind not in PLAIN_DTYPES or b.dtype.kind not in PLAIN_DTYPES:
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
