"""Grade executed-or-not student notebooks against the solution notebooks, robustly.

Each submission is rebuilt on the solution notebook's skeleton: its exercise cells are taken by
``grade_id`` (so deleted, duplicated or reordered cells don't shift anything), every other cell,
graded checks with their hidden tests included, comes from the solution notebook. The result runs in a
fresh kernel (nbclient: errors allowed, a timeout per cell, outputs capped); a cell that kills the kernel
is replaced by an error and the notebook is run again. Each graded check scores its points if it raised
nothing.
"""
import csv
import io
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from labutils.atomic import write_text
from labutils.grading.release import grade_meta, is_check, is_exercise

FIELDS = ("student", "notebook", "exercise", "points", "max", "status", "reason")
OUTPUT_LIMIT = 100_000          # characters of output kept per cell
MAX_RESTARTS = 3


@dataclass
class Row:
    student: str
    notebook: str
    exercise: str
    points: float
    max: float
    status: str
    reason: str


class CappedClient(NotebookClient):
    """NotebookClient that keeps at most OUTPUT_LIMIT characters of output per cell, as outputs arrive."""

    def output(self, outs, msg, display_id, cell_index):
        size = sum(len(json.dumps(o)) for o in outs)
        if size > OUTPUT_LIMIT:
            return None
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and size + len(json.dumps(out)) > OUTPUT_LIMIT:
            outs.pop()
            outs.append(nbformat.v4.new_output("stream", name="stderr",
                                               text=f"[output truncated by the grader at {OUTPUT_LIMIT:,} characters]\n"))
        return out


def _error(cell):
    """(ename, evalue) of the first error output of a cell, or None."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("ename", "Error"), str(out.get("evalue", "")).strip()
    return None


def assemble(source, submission):
    """The notebook to run: the source's cells, with the submission's exercise cells by grade_id.

    -> (notebook, notes) with notes[grade_id] in {"missing", "duplicated"} where that applies.
    """
    theirs = {}
    for cell in submission.get("cells", []):
        gid = grade_meta(cell).get("grade_id") if isinstance(cell, dict) else None
        if gid and cell.get("cell_type") == "code":
            theirs.setdefault(gid, []).append(cell)
    nb, notes = nbformat.v4.new_notebook(metadata=source.metadata), {}
    for cell in source.cells:
        cell = nbformat.from_dict(json.loads(json.dumps(cell)))
        if is_exercise(cell):
            gid = grade_meta(cell)["grade_id"]
            copies = theirs.get(gid, [])
            if not copies:
                notes[gid] = "missing"
                cell.source = f"raise NotImplementedError('exercise cell {gid} is missing from the submission')"
            else:
                if len(copies) > 1:
                    notes[gid] = "duplicated"
                source_text = copies[-1].get("source", "")
                cell.source = "".join(source_text) if isinstance(source_text, list) else str(source_text)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        nb.cells.append(cell)
    return nb, notes


def execute(nb, cwd, timeout=300, mode="quick"):
    """Run nb in a fresh kernel; a cell that kills the kernel is replaced by an error and the run restarted."""
    env = {**os.environ, "RNNLAB_MODE": mode}        # the kernel's environment; the grader's own is left alone
    for _ in range(MAX_RESTARTS + 1):
        current = {"index": None}
        client = CappedClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                              interrupt_on_timeout=True, resources={"metadata": {"path": str(cwd)}},
                              error_on_timeout={"ename": "TimeoutError",
                                                "evalue": f"the cell ran longer than {timeout} s and was interrupted",
                                                "traceback": []},
                              on_cell_start=lambda cell, cell_index: current.update(index=cell_index))
        try:
            client.execute(env=env)                  # passed on to the kernel manager's start_kernel
            return nb
        except DeadKernelError:
            i = current["index"]
            nb.cells[i].source = ("raise RuntimeError('the kernel died in this cell (os._exit, a crash or running out "
                                  "of memory), so the grader skipped it')")
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
    return nb


# The grader interrupts a cell that runs past its timeout, so a KeyboardInterrupt means a timeout too.
STATUS = {"NotImplementedError": "not implemented", "AssertionError": "failed", "TimeoutError": "timeout",
          "KeyboardInterrupt": "timeout"}


def _status(err):
    ename, evalue = err
    if ename == "RuntimeError" and "kernel died" in evalue:
        return "kernel died"
    return STATUS.get(ename, "error")


def _short(err):
    ename, evalue = err
    if ename == "KeyboardInterrupt":
        return "TimeoutError: the cell ran past the grader's time limit and was interrupted"
    text = " ".join(evalue.split())
    return f"{ename}: {text[:400]}" + ("..." if len(text) > 400 else "")


def score(source, executed, notes, student, notebook):
    """One Row per graded check cell, in the source notebook's order."""
    rows, exercise, exercise_cell = [], None, None
    for src, cell in zip(source.cells, executed.cells):
        meta = grade_meta(src)
        if is_exercise(src):
            exercise, exercise_cell = meta["grade_id"], cell
            continue
        if not is_check(src):
            continue
        points = float(meta.get("points", 1))
        err, ex_err = _error(cell), _error(exercise_cell) if exercise_cell is not None else None
        note = notes.get(exercise)
        if note == "missing":
            status, reason = "missing", f"exercise cell '{exercise}' is not in the submission (deleted, or its metadata lost)"
        elif err is None:
            status, reason = "passed", ""
        elif ex_err is not None and ex_err[0] != "NotImplementedError":
            status, reason = _status(ex_err), f"the exercise cell '{exercise}' raised {_short(ex_err)}"
        else:
            status, reason = _status(err), _short(err)
        if note == "duplicated":
            reason = (reason + "; " if reason else "") + f"exercise cell '{exercise}' appears more than once: the last copy was graded"
        rows.append(Row(student, notebook, meta["grade_id"], points if status == "passed" else 0.0, points, status, reason))
    return rows


def _invalid_rows(source, student, notebook, reason):
    return [Row(student, notebook, grade_meta(c)["grade_id"], 0.0, float(grade_meta(c).get("points", 1)),
                "invalid notebook", reason) for c in source.cells if is_check(c)]


def grade_submission(path, source_path, student, feedback_dir=None, timeout=300, mode="quick"):
    """Grade one submission file -> list of Rows (never raises for a bad submission)."""
    source = nbformat.read(source_path, as_version=4)
    notebook = Path(source_path).stem
    try:
        submission = nbformat.reads(Path(path).read_text(encoding="utf-8", errors="replace"), as_version=4)
        if not isinstance(submission.get("cells"), list):
            raise ValueError("it has no list of cells")
    except Exception as err:   # noqa: BLE001 - any unreadable file is reported, not raised
        return _invalid_rows(source, student, notebook, f"not a readable notebook ({type(err).__name__}: "
                                                        f"{' '.join(str(err).split())[:200]})")
    nb, notes = assemble(source, submission)
    executed = execute(nb, Path(source_path).parent.resolve(), timeout, mode)
    rows = score(source, executed, notes, student, notebook)
    if feedback_dir is not None:
        from labutils.grading.feedback import write_feedback
        write_feedback(Path(feedback_dir) / student / f"{notebook}.html", executed, rows)
    return rows


def find_submissions(paths):
    """(student, path) pairs from files (student = parent folder name) or folders of student_id/NN_name.ipynb."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += [(f.parent.name, f) for f in sorted(p.glob("*/*.ipynb"))]
            found += [(p.name, f) for f in sorted(p.glob("*.ipynb"))]
        elif p.exists():
            found.append((p.parent.name, p))
        else:
            raise FileNotFoundError(f"no submission at {p}")
    return found


def _grade_one(args):
    student, path, source_dir, feedback_dir, timeout, mode = args
    source = Path(source_dir) / path.name
    if not source.exists():
        return [Row(student, path.stem, "-", 0.0, 0.0, "unknown notebook",
                    f"no solution notebook named {path.name} in {source_dir}")]
    try:
        return grade_submission(path, source, student, feedback_dir, timeout, mode)
    except Exception as err:   # noqa: BLE001 - the grader itself must never stop the batch
        return [Row(student, path.stem, "-", 0.0, 0.0, "grader error", f"{type(err).__name__}: {err}")]


def grade(paths, source_dir, out_dir, jobs=1, timeout=300, mode="quick"):
    """Grade every submission (in parallel processes); write grades.csv and feedback/ under out_dir -> rows."""
    out_dir = Path(out_dir)
    tasks = [(student, path, source_dir, out_dir / "feedback", timeout, mode) for student, path in find_submissions(paths)]
    start = time.perf_counter()
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_grade_one, tasks))
    else:
        results = [_grade_one(t) for t in tasks]
    rows = [row for result in results for row in result]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(r) for r in rows)
    write_text(out_dir / "grades.csv", buf.getvalue())
    print(f"graded {len(tasks)} submissions in {time.perf_counter() - start:.1f} s -> {out_dir / 'grades.csv'}")
    return rows
