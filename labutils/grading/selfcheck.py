"""CI's check of the grading workflow on every notebook: graded by the sandboxed grader, the solution notebook
scores full marks and the untouched student release scores zero; run as a student would run it, the
release raises only NotImplementedError, only in exercise and check cells (later cells fall back to the
labutils reference)."""
import os
import sys
from pathlib import Path

import nbformat

from labutils.execute import execute
from labutils.grading.grade import grade_task, submission_seed
from labutils.grading.release import is_check, is_exercise, release_notebook


def _sandbox_available():
    from labutils.grading.sandbox import Sandbox, SandboxUnavailable
    try:
        Sandbox()
        return True
    except SandboxUnavailable as err:
        print(f"  note: grading without a sandbox here: {err}")
        return False


def check_notebook(path, mode="quick", timeout=900, sandbox=True):
    """-> list of problems (empty when the notebook's grading works)."""
    source = nbformat.read(path, as_version=4)
    problems = []
    if not any(is_check(c) for c in source.cells):
        print("  no graded checks (a notebook without exercises): nothing to grade")
        return problems
    release = release_notebook(source)
    for label, submission in (("solution", source), ("release", release)):
        result = grade_task(dict(student=label, notebook=Path(path).stem, submission=nbformat.writes(submission),
                                 source=nbformat.writes(source), timeout=300, mode=mode, sandbox=sandbox,
                                 seed=submission_seed(b"selfcheck", Path(path).stem, label)))
        rows = result["rows"]
        got, total = sum(r["points"] for r in rows), sum(r["max"] for r in rows)
        print(f"  {label:8s}: {got:g} / {total:g} points over {len(rows)} checks (graded in the sandbox)", flush=True)
        if label == "solution" and got != total:
            problems += [f"solution fails {r['exercise']}: {r['status']}: {r['reason']}" for r in rows
                         if r["status"] != "passed"]
        if label == "release":
            problems += [f"empty release scores on {r['exercise']}" for r in rows if r["points"]]
    executed = execute(release, Path(path).parent.resolve(), timeout, env={**os.environ, "RNNLAB_MODE": mode},
                       robust=True)
    for i, (src, cell) in enumerate(zip(source.cells, executed.cells)):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out["ename"] != "NotImplementedError":
                problems.append(f"release cell {i} raised {out['ename']}: {out['evalue'][:200]}")
            elif not (is_exercise(src) or is_check(src)):
                problems.append(f"release cell {i} (not an exercise or check) raised NotImplementedError: "
                                "use labutils.checks.fallback there")
    print("  release : runs to the end in quick mode", flush=True)
    return problems


def main(paths):
    failed, sandbox = 0, _sandbox_available()
    for path in paths:
        print(f"{Path(path).stem}:", flush=True)
        problems = check_notebook(path, sandbox=sandbox)
        for p in problems:
            print(f"  PROBLEM: {p}")
        failed += bool(problems)
    print(f"{len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    from labutils.config import lesson_notebooks
    sys.exit(main(lesson_notebooks(sys.argv[1:])))
