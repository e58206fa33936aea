"""No check fails a correct answer: each check runs the course's solution (the solution notebook's exercise
cells) through its probe and verify on the seeds the grader draws (``grade.check_seed``), and any miss fails.

``make test`` runs a sample (SAMPLE seeds per check); ``make check-seeds`` (RNNLAB_CHECK_SEEDS=full) runs
100,000 seeds of the cheap checks and 10,000 of the others, the sweep the grading promise rests on.
RNNLAB_CHECK_SEEDS_SHARD=k/n runs every n-th of those seeds from the k-th (0 <= k < n), so n processes can
share a sweep (check_overfit's 10,000 took 35 min of one core, most seeds reaching 100 % in a few epochs).
"""
import os
from pathlib import Path

import nbformat
import pytest

from labutils.checks.framework import namespace_of, prepared, run_probe
from labutils.checks.wire import roundtrip
from labutils.config import PROJECT_ROOT
from labutils.grading.grade import check_seed
from labutils.grading.release import grade_meta, is_check, is_exercise
from labutils.lessons import find_check

FULL = os.environ.get("RNNLAB_CHECK_SEEDS") == "full"
SHARD, SHARDS = map(int, os.environ.get("RNNLAB_CHECK_SEEDS_SHARD", "0/1").split("/"))
# Under 2 ms a seed on one core: 100,000 seeds in the full sweep. The others get 10,000.
CHEAP = {"check_rnn_step_forward", "check_rnn_forward", "check_one_hot", "check_adagrad_update",
         "check_softmax_with_temperature", "check_encode", "check_time_gate", "check_rnn_step_backward",
         "check_lstm_param_count"}
SAMPLE = {"check_overfit": 2}           # ~0.2 s a seed (up to seconds): a sample of 2 here, 10,000 in the full sweep
SAMPLE_DEFAULT = 40


def _solution_functions(path):
    """The names a solution notebook's parameters and exercise cells define, and its checks' grade_ids."""
    nb = nbformat.read(path, as_version=4)
    namespace, checks = {"__name__": "solution"}, []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "parameters" in cell.metadata.get("tags", []) or is_exercise(cell):
            exec(compile(cell.source, str(path), "exec"), namespace)
        elif is_check(cell):
            checks.append(grade_meta(cell)["grade_id"])
    return namespace, checks


def _checks_of(path):
    nb = nbformat.read(path, as_version=4)
    return [grade_meta(c)["grade_id"] for c in nb.cells if is_check(c)]


NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
PAIRS = [(path, gid) for path in NOTEBOOKS for gid in _checks_of(path)]


def seeds_for(grade_id):
    if FULL:
        return 100_000 if grade_id in CHEAP else 10_000
    return SAMPLE.get(grade_id, SAMPLE_DEFAULT)


@pytest.mark.parametrize("path, grade_id", PAIRS, ids=[f"{p.stem[:2]}-{g}" for p, g in PAIRS])
def test_the_solution_passes_every_seed_the_grader_can_draw(path, grade_id, monkeypatch):
    monkeypatch.setenv("RNNLAB_MODE", "quick")
    monkeypatch.chdir(Path(path).parent)
    namespace, _ = _solution_functions(path)
    check = find_check(grade_id, path)
    fns = {name: namespace[name] for name in check.uses}
    misses = []
    for i in range(SHARD, seeds_for(grade_id), SHARDS):
        seed = check_seed(i, grade_id)
        for case in check.cases(seed):
            case = prepared(check, case)
            try:
                check.verify(case, roundtrip(run_probe(check, fns, case, namespace_of(fns))))
            except AssertionError as err:
                misses.append((seed, str(err)[:300]))
        if len(misses) >= 3:
            break
    assert not misses, f"{grade_id}: the solution fails on seeds {[m[0] for m in misses]}: {misses[0][1]}"
