"""Grade student notebooks as hostile code: the student's cells run in a sandbox, the verdicts here.

For each submission the grader (this process, trusted) rebuilds the notebook on the solution notebook's
skeleton: the course's ``parameters`` cell, then the student's exercise cells taken by ``grade_id``
(deleted, duplicated or reordered cells don't shift anything), each graded check replaced by a probe
cell. It draws fresh inputs for every check from a seed that never leaves this process, and runs the
notebook in a bubblewrap sandbox (``labutils.grading.sandbox``). The sandbox returns data only: what the
student's functions gave on those inputs. ``Check.verify`` then decides each check here, with the same
messages the notebook shows. Nothing the student's code does inside the kernel (patched checks, custom
exception handlers, input transformers, killed processes) can turn a wrong answer into points.

Only this process writes results, after every sandbox of the batch has ended: ``grades.csv`` atomically,
``similarity.csv``, ``feedback/<student>/<notebook>.html``. Submissions fan out over ``jobs`` threads of
a local Dask worker, each supervising a grading child process, or over a Dask cluster (``scheduler``).
"""
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
import numpy as np

from labutils.atomic import write_text
from labutils.checks.mistakes import UNCLASSIFIED, mistake_id
from labutils.checks.wire import MAX_ARRAY_BYTES, MAX_JSON_CHARS, OutputError, unpack
from labutils.grading.interpreter import KERNEL_DIED
from labutils.grading.release import grade_meta, is_check, is_exercise
from labutils.grading.stubs import WITHHELD

FIELDS = ("student", "notebook", "exercise", "points", "max", "status", "mistake", "reason", "flag")
# Any letters (a real name: Zoë, 王芳) and digits, then also . _ @ + -; no separators, controls or spaces.
STUDENT_ID = re.compile(r"^[^\W_][\w.@+-]{0,99}$")
MAX_SUBMISSION_BYTES = 50_000_000
MAX_EXECUTED_BYTES = 30_000_000
# The grader interrupts a cell that runs past its timeout, so a KeyboardInterrupt means a timeout too.
STATUS = {"NotImplementedError": "not implemented", "AssertionError": "failed", "TimeoutError": "timeout",
          "KeyboardInterrupt": "timeout"}


@dataclass
class Row:
    student: str
    notebook: str
    exercise: str
    points: float
    max: float
    status: str
    reason: str
    flag: str = ""
    mistake: str = ""          # a failed check's mistake id (labutils.checks.mistakes), or "unclassified"


def _probe_source(grade_id, cases, notebook):
    return ("# grading probe: your functions on the grader's inputs\n"
            f"from labutils.grading.probe import probe\nprobe({grade_id!r}, globals(), {notebook!r}, cases={cases!r})")


def _text(source):
    return "".join(source) if isinstance(source, list) else str(source)


def assemble(source, submission, cases="/job/cases", notebook=None):
    """The notebook the sandbox runs -> (notebook, notes, exercises).

    notebook: the lesson's file name, whose checks the probe cells run (``labutils.lessons.find_check``).
    notes[grade_id] is "missing" or "duplicated" where that applies; exercises[grade_id] is the student's
    source of each exercise cell (for flags and the similarity report).
    """
    theirs = {}
    for cell in submission.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        gid = grade_meta(cell).get("grade_id") if isinstance(cell.get("metadata"), dict) else None
        if isinstance(gid, str):
            theirs.setdefault(gid, []).append(cell)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    notes, exercises = {}, {}
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        meta = {"nbgrader": dict(grade_meta(cell))} if grade_meta(cell) else {}
        tags = [t for t in ("parameters", "budget") if t in cell.metadata.get("tags", [])]
        if tags:     # the course's imports, mode and budgets (the student's copy of these cells is ignored)
            nb.cells.append(nbformat.v4.new_code_cell(cell.source, metadata={"tags": tags}))
        elif is_exercise(cell):
            gid = grade_meta(cell)["grade_id"]
            copies = theirs.get(gid, [])
            if not copies:
                notes[gid] = "missing"
                text = f"raise NotImplementedError('exercise cell {gid} is missing from the submission')"
            else:
                if len(copies) > 1:
                    notes[gid] = "duplicated"
                text = _text(copies[-1].get("source", ""))
                exercises[gid] = text
            nb.cells.append(nbformat.v4.new_code_cell(text, metadata=meta))
        elif is_check(cell):
            probe = _probe_source(grade_meta(cell)["grade_id"], cases, notebook)
            nb.cells.append(nbformat.v4.new_code_cell(probe, metadata=meta))
    return nb, notes, exercises


# ---- reading what the sandbox sent back (untrusted: a capped zip, sizes checked, no pickle) --------------

class Outputs:
    """The zip archive of out/ that the runner sent on its standard output."""

    def __init__(self, data):
        self.files = {}
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                infos = z.infolist()
                if len(infos) <= 200 and sum(i.file_size for i in infos) <= MAX_EXECUTED_BYTES + 2 * MAX_ARRAY_BYTES:
                    self.files = {i.filename: z.read(i) for i in infos if i.file_size <= MAX_EXECUTED_BYTES}
        except Exception:   # noqa: BLE001 - nothing readable came back
            self.files = {}

    def executed(self):
        data = self.files.get("executed.ipynb")
        if data is None:
            return None
        try:
            nb = nbformat.reads(data.decode("utf-8", "replace"), as_version=4)
            return nb if isinstance(nb.get("cells"), list) else None
        except Exception:   # noqa: BLE001 - anything unreadable is just absent
            return None

    def results(self, grade_id):
        """The probe's per-case results, or None when absent; OutputError when present but not plain data."""
        text, blob = self.files.get(f"{grade_id}.json"), self.files.get(f"{grade_id}.npz")
        if text is None or blob is None:
            return None
        if len(text) > MAX_JSON_CHARS:
            raise OutputError("the probe's outputs are too large")
        try:
            with zipfile.ZipFile(io.BytesIO(blob)) as z:
                if sum(i.file_size for i in z.infolist()) > MAX_ARRAY_BYTES + 1_000_000:
                    raise OutputError("the outputs' arrays are too large")
            with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
                results = unpack(text.decode("utf-8", "replace"), arrays)
        except OutputError:
            raise
        except Exception as err:   # noqa: BLE001 - any malformed file is the submission's problem
            raise OutputError(f"unreadable probe outputs ({type(err).__name__})") from None
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise OutputError("probe outputs are not a list of results")
        return results


# ---- verdicts -------------------------------------------------------------------------------------------

def _error(cell):
    """(ename, evalue) of the first error output of a cell, or None."""
    for out in (cell or {}).get("outputs", []) or []:
        if isinstance(out, dict) and out.get("output_type") == "error":
            return str(out.get("ename", "Error"))[:100], str(out.get("evalue", "")).strip()
    return None


def _status(err):
    ename, evalue = err
    if ename == "RuntimeError" and KERNEL_DIED in evalue:
        return "kernel died"
    if WITHHELD in evalue:              # it called a stub of the sandbox's labutils: it delegates
        return "uses reference"
    return STATUS.get(ename, "error")


def _short(err):
    ename, evalue = err
    if ename == "KeyboardInterrupt":
        return "TimeoutError: the cell ran past the grader's time limit and was interrupted"
    text = " ".join(str(evalue).split())
    return f"{ename}: {text[:400]}" + ("..." if len(text) > 400 else "")


def verdict(check, cases, results, exercise_err, probe_err, exercise):
    """(status, reason, mistake) of one check from the probe's results, computed with the grader's own
    reference; mistake is the id of the mistake a failed check names (``unclassified`` if none), else ""."""
    status, reason, *mistake = _verdict(check, cases, results, exercise_err, probe_err, exercise)
    return status, reason, (mistake[0] if mistake else UNCLASSIFIED if status == "failed" else "")


def _verdict(check, cases, results, exercise_err, probe_err, exercise):
    if results is None:
        if exercise_err is not None and exercise_err[0] != "NotImplementedError":
            return _status(exercise_err), f"the exercise cell '{exercise}' raised {_short(exercise_err)}"
        if probe_err is not None:
            return _status(probe_err), _short(probe_err)
        if exercise_err is not None:
            return _status(exercise_err), _short(exercise_err)
        return "error", "the check produced no outputs (the kernel or the sandbox stopped before it ran)"
    errors = [r["error"] for r in results if isinstance(r.get("error"), dict)]
    if errors:
        err = (str(errors[0].get("type", "Error"))[:100], str(errors[0].get("message", "")))
        if exercise_err is not None and exercise_err[0] != "NotImplementedError" and err[0] == "NameError":
            return _status(exercise_err), f"the exercise cell '{exercise}' raised {_short(exercise_err)}"
        return ("not implemented" if err[0] == "NotImplementedError" else _status(err)), _short(err)
    if len(results) != len(cases) or not all("ok" in r for r in results):
        return "error", "the probe's outputs are incomplete"
    for case, result in zip(cases, results):
        try:
            check.verify(case, result["ok"])
        except AssertionError as err:
            return "failed", _short(("AssertionError", str(err))), mistake_id(err)
        except Exception as err:   # noqa: BLE001 - an odd return value is the student's bug, said plainly
            return "failed", (f"your function returned something the check cannot read "
                              f"({type(err).__name__}: {' '.join(str(err).split())[:200]})")
    return "passed", ""


def _invalid_rows(source, student, notebook, reason):
    return [Row(student, notebook, grade_meta(c)["grade_id"], 0.0, float(grade_meta(c).get("points", 1)),
                "invalid notebook", reason) for c in source.cells if is_check(c)]


def _run_unsandboxed(job, scratch, timeout, mode, wall, limits):
    """--no-sandbox: the same runner as a plain child process of the grader (trusted code only)."""
    import subprocess

    from labutils.grading.sandbox import capture, environment
    env = environment(mode, {"HOME": str(scratch), "RNNLAB_CACHE": str(Path(scratch) / ".cache"),
                             "TMPDIR": str(scratch)})
    proc = subprocess.Popen([sys.executable, "-m", "labutils.grading.inside", str(job), str(timeout)], cwd=scratch,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    return capture(proc, limits, wall)


def sandbox_limits(task):
    """The sandbox's limits for this task: the defaults, with the memory all its processes may use together
    set by the instructor (``grade --memory``)."""
    from labutils.grading.sandbox import Limits
    return Limits(sandbox_memory_bytes=task.get("memory", Limits().sandbox_memory_bytes))


def grade_task(task):
    """Grade one submission -> {"rows": [...], "feedback": html or None, "exercises": {grade_id: source}}.

    task: student, notebook, submission (text), source (solution notebook text), timeout, mode, sandbox
    (True/False). A plain function of plain data, so it runs in a local process or on a Dask worker alike;
    it never raises for a bad submission.
    """
    from labutils.grading.flags import delegation_flags
    from labutils.grading.probe import write_data
    from labutils.lessons import find_check, references_of
    student, notebook = task["student"], task["notebook"]
    source = nbformat.reads(task["source"], as_version=4)
    try:
        submission = nbformat.reads(task["submission"], as_version=4)
        if not isinstance(submission.get("cells"), list):
            raise ValueError("it has no list of cells")
    except Exception as err:   # noqa: BLE001 - any unreadable file is reported, not raised
        rows = _invalid_rows(source, student, notebook, f"not a readable notebook ({type(err).__name__}: "
                                                        f"{' '.join(str(err).split())[:200]})")
        return {"rows": [asdict(r) for r in rows], "feedback": None, "exercises": {}}
    work = Path(tempfile.mkdtemp(prefix="rnnlab-grade-"))
    job = work / "job"                               # the inputs: read-only inside the sandbox, at /job
    nb, notes, exercises = assemble(source, submission, "/job/cases" if task["sandbox"] else str(job / "cases"),
                                    notebook)
    seed = task["seed"]                              # the hidden inputs: the seed never enters the sandbox
    checks, cases, references = {}, {}, references_of(notebook)
    try:
        os.chmod(work, 0o755)
        (job / "cases").mkdir(parents=True)
        for cell in source.cells:
            if is_check(cell):
                gid = grade_meta(cell)["grade_id"]
                try:
                    checks[gid] = find_check(gid, notebook)
                except (KeyError, ImportError, ValueError):
                    continue
                cases[gid] = grading_cases(checks[gid], check_seed(seed, gid))
                write_data(job / "cases", gid, cases[gid])
        nbformat.write(nb, job / "notebook.ipynb")
        timeout, wall = task["timeout"], sandbox_wall_seconds(task["timeout"], len(nb.cells))
        limits = sandbox_limits(task)
        if task["sandbox"]:
            from labutils.grading.sandbox import Sandbox
            from labutils.grading.stubs import stubbed_package
            from labutils.lessons import withheld_references
            stubbed = task.get("labutils_dir")
            if not stubbed or not os.path.isdir(stubbed):       # a worker on another machine makes its own
                stubbed = stubbed_package(withheld_references(notebook))
            outcome = Sandbox(limits).run([sys.executable, "-m", "labutils.grading.inside", "/job", str(timeout)],
                                          job, task["mode"], wall_seconds=wall, labutils_dir=stubbed)
        else:
            (work / "scratch").mkdir()
            outcome = _run_unsandboxed(job, work / "scratch", timeout, task["mode"], wall, limits)
        out = Outputs(outcome.stdout)
        executed = out.executed()
        rows = []
        by_cell = dict(zip([id(c) for c in nb.cells], executed.cells)) \
            if executed is not None and len(executed.cells) == len(nb.cells) else {}
        exercise, exercise_cell = None, None
        for cell in nb.cells:
            meta = grade_meta(cell)
            ran = by_cell.get(id(cell))
            if is_exercise(cell):
                exercise, exercise_cell = meta["grade_id"], ran
                continue
            if not is_check(cell):
                continue
            gid, points, mistake = meta["grade_id"], float(meta.get("points", 1)), ""
            if gid not in checks:
                status, reason = "grader error", f"labutils has no grading probe for the check '{gid}'"
            elif notes.get(exercise) == "missing":
                status, reason = "missing", (f"exercise cell '{exercise}' is not in the submission "
                                             "(deleted, or its metadata lost)")
            else:
                try:
                    results = out.results(gid)
                    status, reason, mistake = verdict(checks[gid], cases[gid], results, _error(exercise_cell),
                                                      _error(ran), exercise)
                except OutputError as err:
                    status, reason = "error", str(err)
                if status == "error" and executed is None and getattr(outcome, "out_of_memory", False):
                    status, reason = "memory limit", (
                        "the submission's processes together used more than the sandbox's memory limit "
                        f"({limits.sandbox_memory_bytes / 2**30:g} GiB) and were stopped")
                elif status == "error" and executed is None:
                    status = "sandbox ended" if not outcome.timed_out else "timeout"
                    reason = ("the grader got nothing back from the sandbox (the submission's code killed its "
                              "runner, removed its output folder, printed too much, or ran out of time or "
                              "memory)")
            if notes.get(exercise) == "duplicated":
                reason = (reason + "; " if reason else "") + \
                    f"exercise cell '{exercise}' appears more than once: the last copy was graded"
            rows.append(Row(student, notebook, gid, points if status == "passed" else 0.0, points, status, reason,
                            "; ".join(delegation_flags(exercise, exercises.get(exercise, ""), source,
                                                       references.get(exercise))), mistake))
        from labutils.grading.feedback import feedback_html
        html = feedback_html(rows, nb, executed)
        return {"rows": [asdict(r) for r in rows], "feedback": html, "exercises": exercises}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---- the batch ------------------------------------------------------------------------------------------

def find_submissions(paths, notebooks, course_files=frozenset()):
    """-> (tasks [(student, notebook, path)], rows for every file that can't be graded, with the reason).

    Layout: <folder>/<student_id>/<NN_name>.ipynb (suffix in any case); a file given directly is graded
    as its parent folder's student. notebooks: the names (stems) of the solution notebooks; course_files:
    their (device, inode) pairs, so a link to one is refused.
    """
    tasks, problems, seen = [], [], set()

    def problem(student, name, status, reason):
        problems.append(Row(student, name, "-", 0.0, 0.0, status, reason))

    def consider(student, path, where):
        name = path.name
        if not STUDENT_ID.fullmatch(student) or student in (".", ".."):
            problem(_printable(student), name, "invalid student id",
                    f"{where}: a student folder name must be letters, digits and . _ @ + - (at most 100; not a path)")
        elif path.is_symlink() or not path.is_file():
            problem(student, name, "not a regular file",
                    f"{where} is a link or a special file: submit the notebook itself")
        elif path.stat().st_nlink > 1 or (path.stat().st_dev, path.stat().st_ino) in course_files:
            problem(student, name, "not a regular file",
                    f"{where} is a hard link (to another file, perhaps a course file): submit a copy of your own")
        elif path.suffix.lower() != ".ipynb":
            problem(student, name, "not a notebook", f"{where} is not an .ipynb file")
        elif path.stem not in notebooks:
            problem(student, path.stem, "unknown notebook",
                    f"{where}: no solution notebook is named {path.stem}.ipynb (expected one of: "
                    f"{', '.join(sorted(notebooks))})")
        elif (student, path.stem) in seen:
            problem(student, path.stem, "duplicate submission", f"{where}: this student already has {path.stem}")
        else:
            seen.add((student, path.stem))
            tasks.append((student, path.stem, path))

    for p in map(Path, paths):
        if p.is_dir() and not p.is_symlink():
            for entry in sorted(p.iterdir()):
                if entry.is_dir() and not entry.is_symlink():
                    for item in sorted(entry.iterdir()):
                        where = f"{entry.name}/{item.name}"
                        if item.is_dir() and not item.is_symlink():
                            problem(_printable(entry.name), item.name, "misplaced", f"{where}/: nested folder; "
                                    "expected <submissions>/<student_id>/<notebook>.ipynb")
                        else:
                            consider(entry.name, item, where)
                elif entry.is_symlink():
                    problem(_printable(entry.name), entry.name, "not a regular file",
                            f"{entry.name} is a link: submit folders and notebooks themselves")
                else:
                    problem(_printable(p.name), entry.name, "misplaced", f"{entry.name}: put each submission in a "
                            "folder named for its student: <submissions>/<student_id>/<notebook>.ipynb")
        elif p.exists() or p.is_symlink():
            consider(p.absolute().parent.name, p, str(p))
        else:
            raise FileNotFoundError(f"no submission at {p}")
    return tasks, problems


def _printable(name):
    """A refused name as a row can show it: controls and separators escaped, never cut short (a cut could make
    it read as another student's id); only names too long to show are shortened, with a mark no id contains."""
    shown = "".join(c if c.isprintable() and c not in "/\\" else f"\\x{ord(c):02x}" for c in name) or "?"
    return shown if len(shown) <= 200 else f"{shown[:200]}...(+{len(shown) - 200})"


def check_seed(seed, grade_id):
    """Each check's own seed from the submission's: two checks never share inputs, so what one check's case
    carries from the reference (an earlier exercise's output) is never another check's answer."""
    digest = hashlib.sha256(f"{seed}\0{grade_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def grading_cases(check, seed):
    """A check's cases as the sandbox gets them: with what the probe needs from the reference (``given``) and
    the reference's recorded calls to earlier exercises (``calls``), both computed here."""
    from labutils.checks.framework import prepared
    from labutils.checks.replay import record_calls
    return [{**prepared(check, case), "calls": record_calls(check, case)} for case in check.cases(seed)]


def submission_seed(secret, notebook, student):
    """The seed of a submission's hidden inputs: the same for the same course secret, notebook and student
    (a regrade gives the same verdict), unpredictable without the secret, never the clock."""
    digest = hmac.new(secret, f"{notebook}\0{student}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def course_secret(path=None):
    """The grader's secret (bytes): ``RNNLAB_GRADER_SECRET``, else the file ``path`` (default
    ~/.config/rnnlab/grader-secret), created once with 32 random bytes, readable by its owner only. It never
    enters a sandbox; keep it for the course's term so that regrades give the same inputs."""
    if os.environ.get("RNNLAB_GRADER_SECRET"):
        return os.environ["RNNLAB_GRADER_SECRET"].encode()
    path = Path(path or Path.home() / ".config" / "rnnlab" / "grader-secret")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:       # created readable by its owner only, in one write; O_EXCL: a concurrent grade keeps the first
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_hex(32).encode())
        except FileExistsError:
            pass
    secret = path.read_bytes().strip()
    if len(secret) < 16:
        raise ValueError(f"{path} holds {len(secret)} bytes: a grader secret needs at least 16; delete the file to "
                         "make a new one (grades made with the old one will draw other inputs)")
    return secret


def sandbox_wall_seconds(timeout, cells):
    """A sandbox's wall-time limit: every cell's timeout, and 120 s to start and end."""
    return timeout * cells + 120


def _one_row(task, status, reason):
    """The result of a submission that gets one row and no verdicts (the grading itself failed or was stopped)."""
    row = Row(task["student"], task["notebook"], "-", 0.0, 0.0, status, reason)
    return {"rows": [asdict(row)], "feedback": None, "exercises": {}}


def _guarded_task(task):
    try:
        return grade_task(task)
    except Exception as err:   # noqa: BLE001 - the grader itself must never stop the batch
        return _one_row(task, "grader error", f"{type(err).__name__}: {err}")


# The grader's own work on one submission (its sandbox, reading what came back, verdicts, flags, feedback)
# runs in a child process of the worker with these limits on top of the sandbox's, so that no submission can
# hold a worker: memory is the child's proportional set size, time counts from the task's start.
GRADER_MEMORY_BYTES = 4 * 2**30
GRADER_EXTRA_SECONDS = 180            # beyond the sandbox's own wall-time limit
_CHILD = threading.local()            # each worker thread's grading child
_CHILDREN = set()                     # all of this process's, to end with the batch


class _GradingChild:
    """``python -m labutils.grading.child``: grades one task at a time (a JSON line in, a JSON line out),
    reused while it lives; killed with its sandbox at a limit, and replaced."""

    def __init__(self):
        import queue
        import subprocess
        self.proc = subprocess.Popen([sys.executable, "-m", "labutils.grading.child"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        self.lines = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout] + [self.lines.put(None)],
                         daemon=True).start()
        _CHILDREN.add(self)

    def close(self):
        """End it (its standard input closed, it exits; killed if it does not within 10 s)."""
        _CHILDREN.discard(self)
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:   # noqa: BLE001 - a child that won't go quietly is killed
            self.kill()

    def kill(self):
        import signal

        from labutils.grading.sandbox import descendants
        for pid in [self.proc.pid, *descendants(self.proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait()
        _CHILDREN.discard(self)


def _safe_task(task):
    """grade_task in the grading child, within GRADER_MEMORY_BYTES and the task's time -> result; a limit hit
    or a dead child gives this submission a row and the next one a fresh child."""
    import queue

    from labutils.grading.sandbox import process_memory
    child = getattr(_CHILD, "child", None)
    if child is None or child.proc.poll() is not None:
        child = _CHILD.child = _GradingChild()
    limit = sandbox_wall_seconds(task["timeout"], max(1, task.get("cells", 1))) + GRADER_EXTRA_SECONDS
    start = time.monotonic()
    deadline = start + limit
    try:
        child.proc.stdin.write(json.dumps(task).encode() + b"\n")
        child.proc.stdin.flush()
    except OSError:
        pass                                   # it died: the reader says so below
    stopped = None
    while stopped is None:
        try:
            line = child.lines.get(timeout=0.25)
        except queue.Empty:
            line = ""
        if line:
            return {**json.loads(line), "seconds": round(time.monotonic() - start, 2)}
        if line is None:
            stopped = ("grader error", "the grader's process for this submission died (killed, or out of memory); "
                                       "the rest of the batch was graded: grade it again alone")
        elif process_memory(child.proc.pid) > GRADER_MEMORY_BYTES:
            stopped = ("grader limit", f"grading this submission needed more than {GRADER_MEMORY_BYTES / 2**30:g} "
                                       "GiB of the grader's own memory")
        elif time.monotonic() > deadline:
            stopped = ("grader limit", f"grading this submission took the grader more than {limit} s")
    _CHILD.child = None
    child.kill()
    return _one_row(task, *stopped)


def task_key(task):
    """What a verdict depends on: the submission, the course's notebook, the settings and the seed."""
    digest = hashlib.sha256()
    for field in ("student", "notebook", "submission", "source", "timeout", "mode", "sandbox", "seed", "memory"):
        digest.update(f"{field}\0{task.get(field)}\0".encode())
    return digest.hexdigest()


def _lost(task, err):
    """The row of a submission whose grading task died (its worker killed: out of memory, a crash)."""
    return _one_row(task, "grader error", f"the grading of this submission ended abnormally ({type(err).__name__}); "
                                          "the rest of the batch was graded: grade it again alone")


def _map(tasks, jobs, scheduler, journal=None, fn=None):
    """Each task's result, in order. Tasks run on a Dask cluster (``scheduler``) or a local one of ``jobs``
    worker processes: a worker that dies (the kernel's OOM killer, a crash) costs its own submission a row,
    never the batch. journal: a folder where each result is kept as it finishes, and from which a task
    already graded (same ``task_key``) is taken instead of graded again. fn: what grades one task (tests)."""
    fn = fn or _safe_task
    keys = [task_key(t) for t in tasks]
    done = {}
    if journal is not None:
        journal.mkdir(parents=True, exist_ok=True)
        for key in set(keys):
            path = journal / f"{key}.json"
            if path.exists():
                try:
                    done[key] = json.loads(path.read_text(encoding="utf-8"))
                except ValueError:      # a torn write from an interrupted run: grade it again
                    pass
    todo = [i for i, key in enumerate(keys) if key not in done]
    if todo and (jobs > 1 or scheduler):
        import dask
        from dask.distributed import Client, LocalCluster, as_completed
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            # Locally, one worker in this process with a thread per job: each thread only supervises its
            # grading child (_safe_task), which is where a death or a limit can happen, so worker processes
            # would add their start-up to every batch and no safety.
            cluster = None if scheduler else LocalCluster(n_workers=1, threads_per_worker=jobs, processes=False,
                                                          dashboard_address=None, silence_logs=50)
            try:
                with Client(scheduler or cluster) as client:
                    futures = {client.submit(fn, tasks[i], pure=False, key=f"grade-{keys[i]}"): i
                               for i in todo}
                    for future in as_completed(futures):
                        i = futures[future]
                        try:
                            result = future.result()
                        except Exception as err:   # noqa: BLE001 - a killed worker, never the batch
                            result = _lost(tasks[i], err)
                        done[keys[i]] = _journal(journal, keys[i], result)
            finally:
                if cluster is not None:
                    cluster.close()
    else:
        for i in todo:
            done[keys[i]] = _journal(journal, keys[i], fn(tasks[i]))
    for child in list(_CHILDREN):              # this batch's (a remote worker's live as long as it does)
        child.close()
    _CHILD.child = None
    return [done[key] for key in keys]


def _journal(journal, key, result):
    if journal is not None and not any(r["status"] == "grader error" for r in result["rows"]):
        write_text(journal / f"{key}.json", json.dumps(result))
    return result


def grade(paths, source_dir, out_dir, jobs=1, timeout=120, mode="quick", sandbox=True, scheduler=None,
          secret=None, fresh=False, memory=None):
    """Grade every submission; write grades.csv, similarity.csv and feedback/ under out_dir -> rows.

    sandbox=False (``--no-sandbox``) runs submissions unprotected; every row says so. secret: the course secret
    (bytes) the hidden inputs are derived from (default: ``course_secret()``). Each result is journaled in
    out_dir/.journal as it finishes: an interrupted grade resumes there, and a regrade grades only what changed
    (``fresh=True``: grade everything again). memory: bytes that all of one submission's processes may use
    together (default ``Limits.sandbox_memory_bytes``, 6 GiB); ``jobs`` sandboxes may each use that much at once.
    """
    from labutils.grading.flags import similarity
    out_dir = Path(out_dir)
    if sandbox:
        from labutils.grading.sandbox import Sandbox
        Sandbox()                                      # raises SandboxUnavailable with what to do
    secret = course_secret() if secret is None else secret
    memory = sandbox_limits({}).sandbox_memory_bytes if memory is None else int(memory)
    _warn_if_memory_short(jobs, memory)
    source_paths = sorted(Path(source_dir).glob("*.ipynb"))
    sources = {p.stem: p.read_text(encoding="utf-8") for p in source_paths}
    source_nbs = {name: nbformat.reads(text, as_version=4) for name, text in sources.items()}
    found, problems = find_submissions(paths, set(sources), {(p.stat().st_dev, p.stat().st_ino) for p in source_paths})
    cells = {name: len(assemble(nb, {"cells": []})[0].cells) for name, nb in source_nbs.items()}
    # the labutils each notebook's sandboxes see: its exercises' references are stubs (made once per batch)
    stubs_root = tempfile.TemporaryDirectory(prefix="rnnlab-grading-")
    os.chmod(stubs_root.name, 0o755)
    stubbed = {}
    if sandbox:
        from labutils.grading.stubs import write_stubbed_package
        from labutils.lessons import withheld_references
        for name in sorted({notebook for _, notebook, _ in found}):
            folder = Path(stubs_root.name) / name
            folder.mkdir()
            stubbed[name] = write_stubbed_package(withheld_references(name), folder)
    tasks = []
    for student, notebook, path in found:
        size = path.stat().st_size
        # utf-8-sig: a byte-order mark (some Windows editors write one) is not part of the notebook
        text = path.read_bytes()[:MAX_SUBMISSION_BYTES].decode("utf-8-sig", "replace") \
            if size <= MAX_SUBMISSION_BYTES else "{too large}"
        tasks.append(dict(student=student, notebook=notebook, submission=text, source=sources[notebook],
                          timeout=timeout, mode=mode, sandbox=sandbox, cells=cells[notebook], memory=memory,
                          labutils_dir=stubbed.get(notebook),
                          seed=submission_seed(secret, notebook, student)))
    start = time.perf_counter()
    journal = None if fresh else out_dir / ".journal"
    reused = {(t["student"], t["notebook"]) for t in tasks if (journal / f"{task_key(t)}.json").exists()} \
        if journal else set()
    with stubs_root:
        results = _map(tasks, jobs, scheduler, journal)    # every sandbox has ended when this returns
    rows = [Row(**r) for result in results for r in result["rows"]] + problems
    pairs = similarity({(t["student"], t["notebook"]): res["exercises"] for t, res in zip(tasks, results)})
    similar = {}
    for a, b, notebook, exercise, ratio in pairs:
        similar.setdefault((a, notebook, exercise), []).append(f"{b} ({ratio:.2f})")
        similar.setdefault((b, notebook, exercise), []).append(f"{a} ({ratio:.2f})")
    exercise_of = {}
    for notebook, nb in source_nbs.items():
        last = None
        for cell in nb.cells:
            if is_exercise(cell):
                last = grade_meta(cell)["grade_id"]
            elif is_check(cell):
                exercise_of[notebook, grade_meta(cell)["grade_id"]] = last
    for row in rows:
        names = similar.get((row.student, row.notebook, exercise_of.get((row.notebook, row.exercise))))
        if names:
            row.flag = "; ".join(filter(None, [row.flag, "similar to " + ", ".join(sorted(names))]))
        if not sandbox:
            row.flag = "; ".join(filter(None, ["graded WITHOUT sandbox (--no-sandbox)", row.flag]))
    _write_csv(out_dir / "grades.csv", FIELDS, [asdict(r) for r in rows])
    _write_csv(out_dir / "similarity.csv", ("student_a", "student_b", "notebook", "exercise", "similarity"),
               [dict(zip(("student_a", "student_b", "notebook", "exercise", "similarity"), p[:4] + (f"{p[4]:.3f}",)))
                for p in pairs])
    from labutils.grading.report import write_report
    seconds = {(t["student"], t["notebook"]): res["seconds"] for t, res in zip(tasks, results)
               if "seconds" in res and (t["student"], t["notebook"]) not in reused}
    write_report(rows, pairs, seconds, reused, out_dir)
    for task, result in zip(tasks, results):
        if result["feedback"] is not None:
            folder = (out_dir / "feedback" / task["student"]).resolve()
            if folder.parent != (out_dir / "feedback").resolve():
                continue                               # ids are validated; this is a second lock on the door
            write_text(folder / f"{task['notebook']}.html", result["feedback"])
    elapsed = time.perf_counter() - start
    print(f"graded {len(tasks) - len(reused)} submissions in {elapsed:.1f} s "
          f"({60 * (len(tasks) - len(reused)) / max(elapsed, 1e-9):.1f} per minute)"
          + (f", reused {len(reused)} unchanged ones (--fresh grades them again)" if reused else "")
          + f"{'' if sandbox else ' WITHOUT a sandbox (--no-sandbox)'} -> {out_dir / 'grades.csv'}")
    return rows


def _warn_if_memory_short(jobs, memory):
    """Say so when jobs sandboxes at their memory limit would not fit in this machine's memory: a submission
    would then meet the kernel's OOM killer (or a failed allocation) before the grader's own, clearer limit."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if jobs * memory > total:
        print(f"grade: {jobs} jobs x {memory / 2**30:g} GiB per submission is more than this machine's "
              f"{total / 2**30:.1f} GiB: lower --jobs or --memory, or a greedy submission may be stopped by the "
              "system instead of the grader (its row then reads timeout or sandbox ended, not memory limit)",
              file=sys.stderr)


def _write_csv(path, fields, dicts):
    from labutils.grading.report import csv_text
    write_text(path, csv_text(fields, dicts))

