"""CI's check of the grading workflow on every notebook: the solution notebook scores full marks; the
untouched student release scores zero, and running it raises only NotImplementedError, only in exercise
and check cells (later cells fall back to the labutils reference)."""
import sys
import tempfile
from pathlib import Path

import nbformat

from labutils.grading.grade import assemble, execute, score
from labutils.grading.release import is_check, is_exercise, release_notebook


def check_notebook(path, mode="quick", timeout=900):
    """-> list of problems (empty when the notebook's grading works)."""
    source = nbformat.read(path, as_version=4)
    problems = []
    if not any(is_check(c) for c in source.cells):
        print("  no graded checks (a notebook without exercises): nothing to grade")
        return problems
    for label, submission in (("solution", source), ("release", release_notebook(source))):
        nb, notes = assemble(source, submission)
        executed = execute(nb, Path(path).parent.resolve(), timeout, mode)
        rows = score(source, executed, notes, label, Path(path).stem)
        got, total = sum(r.points for r in rows), sum(r.max for r in rows)
        print(f"  {label:8s}: {got:g} / {total:g} points over {len(rows)} checks", flush=True)
        if label == "solution" and got != total:
            problems += [f"solution fails {r.exercise}: {r.status}: {r.reason}" for r in rows if r.status != "passed"]
        if label == "release":
            problems += [f"empty release scores on {r.exercise}" for r in rows if r.points]
            for i, (src, cell) in enumerate(zip(source.cells, executed.cells)):
                for out in cell.get("outputs", []):
                    if out.get("output_type") != "error":
                        continue
                    if out["ename"] != "NotImplementedError":
                        problems.append(f"release cell {i} raised {out['ename']}: {out['evalue'][:200]}")
                    elif not (is_exercise(src) or is_check(src)):
                        problems.append(f"release cell {i} (not an exercise or check) raised NotImplementedError: "
                                        "use labutils.checks.fallback there")
    return problems


def main(paths):
    failed = 0
    for path in paths:
        print(f"{Path(path).stem}:", flush=True)
        problems = check_notebook(path)
        for p in problems:
            print(f"  PROBLEM: {p}")
        failed += bool(problems)
    print(f"{len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    from labutils.__main__ import _notebooks
    sys.exit(main(_notebooks(sys.argv[1:])))
