"""``record(name, value)``: a notebook's named results, collected by ``make run`` into build/results.json; and
``read_measured``: the committed measurements (benchmark CSVs) that notebooks show."""
import csv
import json
import math
import os
from typing import Any

from labutils.atomic import write_text

RESULTS_ENV = "RNNLAB_RESULTS_FILE"
_results = {}


def _plain(value):
    """Turn NumPy/torch scalars into plain JSON values; refuse NaN (a result that means nothing)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"refusing to record a non-finite value ({value}): fix the computation first")
    if not isinstance(value, (int, float, str, bool)):
        raise TypeError(f"record() takes a number, bool or string, not {type(value).__name__}")
    return value


def record(name: str, value: Any) -> None:
    """Record a named result; printed, and written to the file the runner names (if any). Returns value."""
    _results[name] = _plain(value)
    print(f"[result] {name} = {_results[name]}")
    path = os.environ.get(RESULTS_ENV)
    if path:
        write_text(path, json.dumps(_results, indent=1, sort_keys=True))
    return value


def read_measured(name, types, made_by):
    """A committed measurement, ``labutils/assets/measured/<name>`` (shipped with the package), as a list of
    dicts whose values are converted by ``types`` ({column: function}; other columns stay strings).
    made_by: the command that measures it, named in the error when the file is missing."""
    from labutils.config import ASSETS
    path = ASSETS / "measured" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: it is the committed output of `{made_by}`; restore it from "
                                "the course repository or measure it again")
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: types.get(k, str)(v) for k, v in row.items()} for row in csv.DictReader(f)]
