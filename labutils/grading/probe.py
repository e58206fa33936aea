"""The probe cell of a graded check, run in the student's kernel inside the sandbox.

It reads the grader's inputs for one check (``<cases>/<grade_id>``, read-only), calls the student's functions
on them and writes what they returned to ``<out>/<grade_id>`` as JSON plus an ``.npz`` of plain arrays. It decides
nothing: the grader computes the verdict from those outputs in its own process.
"""
import json
from pathlib import Path

import numpy as np

from labutils.checks.framework import not_implemented_message, run_probe
from labutils.checks.replay import replayed_in_modules, replays
from labutils.checks.wire import OutputError, pack, plain, unpack
from labutils.lessons import find_check

MESSAGE_LIMIT = 2000


def write_data(folder, name, obj):
    """obj (plain data) -> folder/name.json and folder/name.npz."""
    text, arrays = pack(obj)
    np.savez(Path(folder) / f"{name}.npz", **arrays)
    (Path(folder) / f"{name}.json").write_text(text)


def read_data(folder, name):
    """Trusted inputs written by write_data (the grader reads untrusted outputs with labutils.grading.verdict)."""
    with np.load(Path(folder) / f"{name}.npz", allow_pickle=False) as arrays:
        return unpack((Path(folder) / f"{name}.json").read_text(), arrays)


def _error(err, fns):
    if isinstance(err, NotImplementedError):
        return {"type": "NotImplementedError", "message": not_implemented_message(err, fns)}
    return {"type": type(err).__name__, "message": " ".join(str(err).split())[:MESSAGE_LIMIT]}


def _undefined(name):
    """Stands in for an earlier exercise that was never defined: the probe judges this check on the reference's
    outputs (the case's ``given``) where it can, as it does when the earlier exercise is wrong."""
    def undefined(*args, **kwargs):
        raise NameError(f"{name} is not defined: its exercise cell did not run, or defines another name")
    return undefined


def probe(grade_id, namespace, notebook, cases="/job/cases", out="out"):
    """Run the student's functions (in namespace) on the cases of notebook's check grade_id; write the outputs."""
    check = find_check(grade_id, notebook)
    cases = read_data(cases, grade_id)
    # No reference runs here (this labutils has stubs for them): earlier exercises the checked function calls
    # answer from what the grader recorded of the reference (checks.replay.Replay); those the probe passes are yours.
    fns = {name: namespace.get(name) or _undefined(name) for name in check.uses[:-1]}
    fns[check.uses[-1]] = namespace.get(check.uses[-1])
    missing = [name for name, fn in fns.items() if fn is None]
    if missing:
        results = [{"error": {"type": "NameError", "message": f"{missing[0]} is not defined: its exercise cell did "
                                                               "not run, or defines another name"}}]
    else:
        results = []
        for case in cases:
            try:
                with replayed_in_modules(check, case):
                    results.append({"ok": plain(run_probe(check, fns, case, namespace,
                                                          replays(check, case, namespace)))})
            except KeyboardInterrupt:
                raise
            except BaseException as err:   # noqa: BLE001 - SystemExit too: every outcome is data for the grader
                results.append({"error": _error(err, fns)})
    try:
        write_data(out, grade_id, results)
    except OutputError as err:
        write_data(out, grade_id, [{"error": {"type": "OutputError", "message": str(err)}}])
    print(json.dumps({"probe": grade_id, "cases": len(results)}))
