"""What crosses the sandbox's boundary: a check's inputs and a student's outputs as plain data.

The sandbox writes what the student's functions returned with ``pack`` (JSON text plus plain numeric arrays for
``np.savez``); the grader reads it back with ``unpack`` (no pickle, sizes capped) and judges it in its own process.
A notebook sends its outputs through the same ``roundtrip``, so the kernel and the grader see the same data.
"""
import json

import numpy as np

MAX_ARRAY_BYTES = 32_000_000        # all arrays of one check's outputs together
MAX_JSON_CHARS = 2_000_000
MAX_DEPTH = 12
PLAIN_DTYPES = "biuf"               # bool, signed and unsigned ints, floats: nothing that can hold code


class OutputError(ValueError):
    """Outputs that cannot be represented as plain data, or are too large."""



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


def pack(obj):
    """Plain data -> (JSON text, {key: array}) for ``np.savez``; raises OutputError past the size caps."""
    arrays, total = {}, [0]

    def walk(x, depth):
        if depth > MAX_DEPTH:
            raise OutputError("outputs are nested too deeply")
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in PLAIN_DTYPES:
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


def unpack(text, arrays):
    """The inverse of pack. ``arrays`` maps keys to arrays (an open ``np.load(..., allow_pickle=False)``)."""
    if len(text) > MAX_JSON_CHARS:
        raise OutputError("outputs too large")

    def walk(x):
        if isinstance(x, dict):
            if set(x) == {"__array__"}:
                a = np.asarray(arrays[x["__array__"]])
                if a.dtype.kind not in PLAIN_DTYPES:
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
    return unpack(*pack(obj))
