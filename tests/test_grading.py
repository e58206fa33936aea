"""The grader against hostile submissions: every attack is a real submission of notebook 01, graded in
its bubblewrap sandbox, with the outcome asserted. Also release, broken submissions, flags, similarity,
feedback safety, and the same tasks on a local Dask cluster."""
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest

from labutils.config import PROJECT_ROOT
from labutils.grading.grade import grade
from labutils.grading.release import grade_meta, release_notebook, solution_blocks

NOTEBOOKS = PROJECT_ROOT / "notebooks"
NB01 = "01_bptt_derivation"
MARKER = "rnnlab-hostile-marker"


FORWARD = """
def rnn_step_forward(x, h_prev, Wxh, Whh, bh):
    h = np.tanh(Wxh @ x + Whh @ h_prev + bh)
    return h, (x, h_prev, Wxh, Whh, h)
"""
WRONG_FORWARD = """
def rnn_step_forward(x, h_prev, Wxh, Whh, bh):
    h = np.zeros((Whh.shape[0], x.shape[1]))
    return h, (x, h_prev, Wxh, Whh, h)
"""


def solution():
    return nbformat.read(NOTEBOOKS / f"{NB01}.ipynb", as_version=4)


def with_cell(grade_id, text, nb=None):
    nb = nb or solution()
    for cell in nb.cells:
        if grade_meta(cell).get("grade_id") == grade_id:
            cell.source = text
    return nb


def cell_index(nb, grade_id):
    return next(i for i, cell in enumerate(nb.cells) if grade_meta(cell).get("grade_id") == grade_id)


def digest(folder):
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path).encode() + path.read_bytes())
    return h.hexdigest()


# Each attack: (student, the exercise cell's new source, expected status of check_rnn_step_forward).
ATTACKS = {
    "redefine_check": ("check_rnn_step_forward = lambda *a, **k: print('OK')\n" + WRONG_FORWARD, "failed"),
    "custom_exc": ("get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n" + WRONG_FORWARD, "failed"),
    "blank_later_cells": ("get_ipython().input_transformers_post.append(lambda lines: [])\n" + WRONG_FORWARD,
                          "error"),
    "patch_assert_close": ("import labutils.checks as c\nc.assert_close = lambda *a, **k: 0.0\n"
                           "c.rel_error = lambda *a: 0.0\n" + WRONG_FORWARD, "failed"),
    "patch_norm": ("np.linalg.norm = lambda *a, **k: 0.0\nnp.allclose = lambda *a, **k: True\n" + WRONG_FORWARD,
                   "failed"),
    "patch_probe": ("import labutils.grading.probe as p\np.probe = lambda *a, **k: None\n" + WRONG_FORWARD, "error"),
    "forge_outputs": (textwrap.dedent("""
        import numpy as _np, labutils.grading.probe as p
        def _forge(gid, ns, notebook=None, cases=None, out='out'):
            p.write_data(out, gid, [{'ok': _np.zeros((5, 3))}] * 3)
        p.probe = _forge
        """) + WRONG_FORWARD, "failed"),
    "read_solution": (textwrap.dedent(f"""
        import glob, json
        found = glob.glob({str(NOTEBOOKS)!r} + '/*.ipynb') + glob.glob('../notebooks/*.ipynb')
        for path in found:
            exec(''.join(json.load(open(path))['cells'][4]['source']))
            open(path, 'w').write('{{}}')
        if not found:
        """) + textwrap.indent(WRONG_FORWARD, "    "), "failed"),
    "outlive_kernel": (textwrap.dedent(f"""
        import subprocess
        subprocess.Popen(['python3', '-c', 'import time; time.sleep(600)', '{MARKER}'], start_new_session=True)
        subprocess.Popen(['sh', '-c', 'sleep 20; rm -rf ../* /tmp/*; echo hacked > grades.csv'],
                         start_new_session=True)
        """) + WRONG_FORWARD, "failed"),
    "kill_runner": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + FORWARD, "sandbox ended"),
    "kill_all": ("import os, signal\nos.kill(-1, signal.SIGKILL)\n" + FORWARD, "sandbox ended"),
    "env_token": ("import os\nprint(sorted(os.environ.items()))\n" + WRONG_FORWARD, "failed"),
    "phishing_link": ("from IPython.display import HTML, Markdown, display\n"
                      "display(HTML('<a href=\"https://evil.example/login\">regrade here</a>'))\n"
                      "display(Markdown('[your grade](https://evil.example/md)'))\n" + FORWARD, "passed"),
    "proc_env": (textwrap.dedent("""
        import os
        for pid in sorted(p for p in os.listdir('/proc') if p.isdigit()):
            for name in ('environ', 'cmdline', 'mountinfo'):
                try:
                    print(pid, name, open(f'/proc/{pid}/{name}', 'rb').read().replace(b'\\0', b' ').decode())
                except OSError as err:
                    print(pid, name, 'unreadable', err)
        """) + WRONG_FORWARD, "failed"),
    "symlink_out": (textwrap.dedent(f"""
        import os
        os.rename('out', 'gone')
        os.symlink({str(NOTEBOOKS)!r}, 'out')
        """) + FORWARD, "sandbox ended"),
    "fork_many": (textwrap.dedent("""
        import subprocess
        procs = []
        try:
            for _ in range(2000):
                procs.append(subprocess.Popen(['sleep', '600']))
        except Exception as err:
            print('stopped after', len(procs), type(err).__name__)
        """) + WRONG_FORWARD, "failed"),
    "memory_bomb": ("try:\n    big = bytearray(64 * 2**30)\nexcept MemoryError:\n    print('MemoryError')\n"
                    + WRONG_FORWARD, "failed"),
    "script_output": (textwrap.dedent("""
        from IPython.display import HTML, Javascript, Markdown, SVG, display
        display(HTML('<script>document.title="pwned"</script><img src=x onerror="document.title=1">'))
        display(Javascript('document.title="pwned"'))
        display(Markdown('<img src=x onerror="document.title=2">'))
        display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><script>document.title=3</script></svg>'))
        """) + WRONG_FORWARD, "failed"),
    "fill_disk": (textwrap.dedent("""
        import os
        written = 0
        try:
            for i in range(100):
                with open(f'filler{i}', 'wb') as f:
                    for _ in range(64):
                        f.write(b'x' * 2**20)
                        written += 2**20
        except OSError as err:
            print('stopped after', written >> 20, 'MiB:', type(err).__name__)
        for i in range(100):
            if os.path.exists(f'filler{i}'):
                os.remove(f'filler{i}')
        """) + WRONG_FORWARD, "failed"),
    "syscalls": (textwrap.dedent("""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        for name, call in (("ptrace", lambda: libc.ptrace(16, os.getppid(), 0, 0)),
                           ("unshare", lambda: libc.unshare(0x10000000)),
                           ("mount", lambda: libc.mount(b"none", b"/sandbox", b"tmpfs", 0, None)),
                           ("bpf", lambda: libc.syscall(321, 0, 0, 0)),
                           ("memfd_create", lambda: libc.memfd_create(b"hold", 0))):
            print("syscall", name, call(), ctypes.get_errno())
        """) + WRONG_FORWARD, "failed"),
    "memory_together": (textwrap.dedent("""
        import os, time
        pids = []
        for _ in range(3):                  # three processes of 1 GiB each: each under the batch's 2 GiB cap
            pid = os.fork()
            if pid == 0:
                block = bytearray(2**30)
                block[::4096] = b"\x01" * (len(block) // 4096)     # every page resident, at C speed
                time.sleep(60)
                os._exit(0)
            pids.append(pid)
        time.sleep(60)
        """) + FORWARD, "memory limit"),
    "fill_shm": (textwrap.dedent("""
        written = 0
        try:
            with open('/dev/shm/filler', 'wb') as f:
                for _ in range(1024):
                    f.write(b'x' * 2**20)
                    f.flush()
                    written += 2**20
        except OSError as err:
            print('shm stopped after', written >> 20, 'MiB:', type(err).__name__)
        """) + WRONG_FORWARD, "failed"),
    "flood_stdout": ("import os\nfor _ in range(200):\n    os.write(1, b'x' * 2**20)\n" + WRONG_FORWARD, "failed"),
    "write_inputs": ("import glob\nfor p in glob.glob('/job/cases/*.json'):\n    open(p, 'w').write('[]')\n"
                     + WRONG_FORWARD, "error"),
    # every way into the reference finds the sandbox's stub: 0 points, status "uses reference"
    "delegate": ("rnn_step_forward = reference.rnn_step_forward\n", "uses reference"),
    "delegate_globals": ("rnn_step_forward = check_rnn_step_forward.__globals__['rnn'].rnn_step_forward\n",
                         "uses reference"),
    "delegate_fn_globals": ("rnn_step_forward = with_spectral_radius.__globals__['rnn_step_forward']\n",
                            "uses reference"),
    "delegate_vars": ("rnn_step_forward = vars(reference)['rnn_step_forward']\n", "uses reference"),
    "delegate_dict": ("rnn_step_forward = reference.__dict__['rnn_step_forward']\n", "uses reference"),
    "delegate_importlib": ("import importlib\n"
                           "rnn_step_forward = importlib.import_module('lab' + 'utils.rnn').rnn_step_forward\n",
                           "uses reference"),
    "delegate_runpy": ("import runpy\nrnn_step_forward = runpy.run_path(reference.__file__)['rnn_step_forward']\n",
                       "uses reference"),
    "delegate_source": (textwrap.dedent("""
        import ast, inspect
        _src = open(reference.__file__).read()
        _ns = {'np': np}
        exec(compile(ast.Module([n for n in ast.parse(_src).body if getattr(n, 'name', '') == 'rnn_step_forward'],
                                []), 'x', 'exec'), _ns)
        rnn_step_forward = _ns['rnn_step_forward']
        """), "uses reference"),
    "delegate_reload": (textwrap.dedent("""
        import importlib, sys
        for _name in [m for m in sys.modules if m.startswith('lab' + 'utils')]:
            del sys.modules[_name]
        rnn_step_forward = importlib.import_module('lab' + 'utils.rnn').rnn_step_forward
        """), "uses reference"),
    "delegate_when_graded": (textwrap.dedent("""
        import os
        def rnn_step_forward(x, h_prev, Wxh, Whh, bh):
            if os.path.exists('/job'):
                return reference.rnn_step_forward(x, h_prev, Wxh, Whh, bh)
            raise NotImplementedError()
        """), "uses reference"),
    "delegate_stack": (textwrap.dedent("""
        import inspect
        def rnn_step_forward(x, h_prev, Wxh, Whh, bh):
            if any('probe' in f.function for f in inspect.stack()):
                return reference.rnn_step_forward(x, h_prev, Wxh, Whh, bh)
            raise NotImplementedError()
        """), "uses reference"),
    "read_recorded_answers": (textwrap.dedent("""
        import glob, json
        import numpy as _np
        def rnn_step_forward(x, h_prev, Wxh, Whh, bh):   # look for its answer in every case the grader sent
            for path in glob.glob('/job/cases/*.npz'):    # every other check's inputs, given data and calls
                if 'check_rnn_step_forward' in path:
                    continue
                arrays = _np.load(path)
                for key in arrays.files:
                    if arrays[key].shape == x.shape and _np.allclose(arrays[key], x):
                        raise RuntimeError('found my inputs in ' + path)
            h = _np.zeros((Whh.shape[0], x.shape[1]))
            return h, (x, h_prev, Wxh, Whh, h)
        """), "failed"),
    "forged_executed": (textwrap.dedent("""
        import json, os
        _nb = json.load(open('/job/notebook.ipynb'))      # 6.6 MB of nested HTML where the feedback shows outputs
        for _c in _nb['cells']:
            _c['outputs'] = [{'output_type': 'display_data', 'metadata': {},
                              'data': {'text/html': '<b>' * 550_000 + '</b>' * 550_000}}] \
                if _c.get('metadata', {}).get('nbgrader', {}).get('grade_id') == 'rnn_step_forward' else []
            _c['execution_count'] = None
        os.makedirs('out', exist_ok=True)
        with open('out/executed.ipynb', 'w') as _f:
            json.dump(_nb, _f)
        os.chmod('out', 0o555)        # the runner's own write of the executed notebook fails (and the probes')
        """) + WRONG_FORWARD, "error"),
    "loop": ("while True:\n    pass\n", "timeout"),
    "exit": ("import sys\nsys.exit(1)\n" + FORWARD, "error"),
    "os_exit": ("import os\nos._exit(1)\n", "kernel died"),
    "huge_output": ("print('x' * 5_000_000)\n" + FORWARD, "passed"),
    "wrong": (WRONG_FORWARD, "failed"),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade the whole hostile batch once; the tests read its outcome."""
    os.environ["RNNLAB_GRADER_TOKEN"] = "token-that-must-not-leak"
    tmp = tmp_path_factory.mktemp("grading")
    subs = tmp / "submissions"
    before = digest(NOTEBOOKS)

    def submit(student, nb=None, raw=None, name=f"{NB01}.ipynb"):
        folder = subs / student
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(raw if raw is not None else nbformat.writes(nb))

    for student, (text, _) in ATTACKS.items():
        submit(student, with_cell("rnn_step_forward", text))
    submit("solution", solution())
    submit("empty", release_notebook(solution()))
    nb = solution()
    at = cell_index(nb, "rnn_step_backward")
    del nb.cells[at]                                          # rnn_step_backward's exercise cell
    submit("deleted", nb)
    nb = solution()
    nb.cells.insert(at + 1, nbformat.from_dict(json.loads(json.dumps(with_cell(
        "rnn_step_backward", "def rnn_step_backward(dh, cache):\n    return 0").cells[at]))))
    submit("duplicated", nb)
    nb = solution()
    nb.cells.reverse()
    submit("reordered", nb)
    submit("not_json", raw="{ this is not json")
    submit("upper_suffix", solution(), name=f"{NB01}.IPYNB")
    submit("copy_a", with_cell("rnn_backward", COPIED))
    submit("copy_b", with_cell("rnn_backward", COPIED.replace("grads", "g").replace("dh_next", "carry")))
    submit("copy_padded", with_cell("rnn_backward", padded(COPIED)))   # dead statements, independent lines swapped
    (subs / "notes_student").mkdir()
    (subs / "notes_student" / "answers.txt").write_text("hello")
    (subs / "nested_student" / "inner").mkdir(parents=True)
    (subs / "nested_student" / "inner" / f"{NB01}.ipynb").write_text(nbformat.writes(solution()))
    (subs / "stray.ipynb").write_text(nbformat.writes(solution()))
    submit("unknown_nb", solution(), name="99_nothing.ipynb")
    (subs / "linked").mkdir()
    (subs / "linked" / f"{NB01}.ipynb").symlink_to(NOTEBOOKS / f"{NB01}.ipynb")
    # the smaller holes of the last audit
    submit("bom", raw="\ufeff" + nbformat.writes(solution()))
    nb = solution()
    nb.cells[cell_index(nb, "rnn_step_backward")].metadata["nbgrader"] = "grade_id: rnn_step_backward"
    submit("bad_metadata", nb)
    nb = solution()
    nb.cells[cell_index(nb, "rnn_forward")].metadata["nbgrader"] = ["grade_id", "rnn_forward"]
    submit("bad_metadata_list", nb)
    submit("deep_ast", with_cell("rnn_backward", "x = " + "+".join(["1"] * 200_000)))
    for student in ("Zoë_Müller", "王芳", "a" * 100):
        submit(student, solution())
    submit("a" * 101, solution())
    hard = subs / "hardlinked"
    hard.mkdir()
    (tmp / "elsewhere.ipynb").write_text(nbformat.writes(solution()))
    os.link(tmp / "elsewhere.ipynb", hard / f"{NB01}.ipynb")
    out = tmp / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep")
    # a 2 GiB cap for all of one submission's processes (the default is 6): memory_together's 3 GiB then fits
    # in any CI machine, where 3 x 3 GiB met the system's limits before the grader's
    rows = grade([subs], NOTEBOOKS, out, jobs=2, timeout=20, secret=b"test-course-secret", memory=2 * 2**30)
    after = digest(NOTEBOOKS)
    return dict(rows=rows, out=out, subs=subs, before=before, after=after, tmp=tmp)


WHY, BY = "        grads.Why += dlogits[t] @ hs[t].T\n", "        grads.by += dlogits[t].sum(axis=1, keepdims=True)\n"
COPIED = """
def rnn_backward(dlogits, cache):
    caches, hs, params = cache
    grads = params.zeros_like()
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(len(caches))):
        grads.Why += dlogits[t] @ hs[t].T
        grads.by += dlogits[t].sum(axis=1, keepdims=True)
        dh = params.Why.T @ dlogits[t] + dh_next
        dx_unused, dh_next, a, b, c = rnn_step_backward(dh, caches[t])
        grads.Wxh += a
        grads.Whh += b
        grads.bh += c
    return grads, dh_next
"""


def padded(text):
    """text with dead statements added and two independent lines swapped: a copy trying to look original."""
    return text.replace("        grads.Wxh += a\n", "        grads.Wxh += a\n        unused = a.sum()\n") \
        .replace("        grads.bh += c\n", "        grads.bh += c\n        spare = [b, c]\n") \
        .replace("    grads = params.zeros_like()\n", "    grads = params.zeros_like()\n    note = 'mine'\n") \
        .replace(WHY + BY, BY + WHY)


SIMILARITY = """
import json, sys
from labutils.grading.flags import similarity
a, b = json.load(sys.stdin)
print(json.dumps(similarity({("ann", "nb"): {"ex": a}, ("bob", "nb"): {"ex": b}, ("cy", "nb"): {"ex": "x = 1"}})))
"""


def test_a_padded_copy_is_flagged_alike_under_every_hash_salt():
    """copydetect hashes with Python's salted hash(): the pairs flagged must not depend on the grader's salt."""
    found = set()
    for salt in ("1", "2", "3", "4"):
        out = subprocess.run([sys.executable, "-c", SIMILARITY], input=json.dumps([COPIED, padded(COPIED)]),
                             text=True, capture_output=True, check=True, env={**os.environ, "PYTHONHASHSEED": salt})
        found.add(out.stdout)
    assert len(found) == 1, f"the flagged pairs changed with the process's hash salt: {found}"
    (pair,) = json.loads(found.pop())
    assert pair[:4] == ["ann", "bob", "nb", "ex"] and pair[4] >= 0.85


def table(batch):
    return {(r.student, r.notebook, r.exercise): r for r in batch["rows"]}


def check(batch, student, exercise="check_rnn_step_forward"):
    return table(batch)[student, NB01, exercise]


@pytest.mark.sandbox
@pytest.mark.parametrize("student", sorted(ATTACKS))
def test_each_attack_gets_its_outcome(batch, student):
    row = check(batch, student)
    expected = ATTACKS[student][1]
    assert row.status == expected, f"{student}: {row.status}: {row.reason}"
    assert row.points == (row.max if expected == "passed" else 0.0)


@pytest.mark.sandbox
def test_the_memory_cap_is_the_instructors(batch):
    # the row names the cap the batch was graded with, and a changed cap is a changed verdict's key
    assert "(2 GiB)" in check(batch, "memory_together").reason
    from labutils.grading.grade import task_key
    task = dict(student="s", notebook=NB01, submission="{}", source="{}", timeout=1, mode="quick", sandbox=True,
                seed=1, memory=2 * 2**30)
    assert task_key(task) != task_key({**task, "memory": 6 * 2**30})


def test_too_many_jobs_for_the_memory_are_named(capsys):
    from labutils.grading.grade import _warn_if_memory_short
    _warn_if_memory_short(1, 2**20)
    assert capsys.readouterr().err == ""
    _warn_if_memory_short(4096, 2**40)
    assert "lower --jobs or --memory" in capsys.readouterr().err


@pytest.mark.sandbox
def test_an_attack_costs_nobody_else_anything(batch):
    t = table(batch)
    for student in ("solution", "upper_suffix", "reordered"):
        assert sum(r.points for r in batch["rows"] if r.student == student) == 7, student
    assert sum(r.points for r in batch["rows"] if r.student == "empty") == 0
    # the other exercises of an attacker still get their own points
    assert t["redefine_check", NB01, "check_bptt"].status == "passed"
    assert t["exit", NB01, "check_bptt"].status == "passed"
    for student in ("exit", "loop", "os_exit"):     # their rnn_step_forward was never defined
        assert t[student, NB01, "check_rnn_step_backward"].status == "passed", student
    assert t["loop", NB01, "check_rnn_forward"].status == "passed"
    assert t["os_exit", NB01, "check_rnn_forward"].status == "passed"
    assert t["wrong", NB01, "check_rnn_step_backward"].status == "passed", "one bug, one failing check"


@pytest.mark.sandbox
def test_solutions_grades_and_outputs_are_untouched(batch):
    assert batch["before"] == batch["after"], "the solution notebooks changed during grading"
    out = batch["out"]
    assert (out / "precious.txt").read_text() == "keep"
    import time
    time.sleep(0.5)
    text = (out / "grades.csv").read_text()
    assert "hacked" not in text and text.startswith("student,notebook,exercise,points,max,status,mistake,reason,flag")
    assert (out / "feedback" / "solution" / f"{NB01}.html").exists()


@pytest.mark.sandbox
def test_no_process_outlives_its_sandbox(batch):
    found = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True).stdout.split()
    assert not found, f"processes started by a submission survived: {found}"
    assert not subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True).stdout


@pytest.mark.sandbox
def test_broken_submissions_each_get_a_clear_status(batch):
    t = table(batch)
    assert check(batch, "deleted", "check_rnn_step_backward").status == "missing"
    assert check(batch, "deleted", "check_rnn_step_forward").status == "passed"
    dup = check(batch, "duplicated", "check_rnn_step_backward")
    assert dup.status == "failed" and "more than once" in dup.reason
    statuses = {check(batch, "not_json", e).status for e in ("check_rnn_step_forward", "check_bptt")}
    assert statuses == {"invalid notebook"}
    assert "TimeoutError" in check(batch, "loop").reason
    assert "SystemExit" in check(batch, "exit").reason
    out = batch["out"] / "feedback" / "huge_output" / f"{NB01}.html"
    assert out.stat().st_size < 2_000_000
    assert check(batch, "kill_runner", "check_bptt").status == "sandbox ended"
    assert ("stray", "-") not in {(r.student, r.exercise) for r in t.values()}


@pytest.mark.sandbox
def test_every_file_of_the_tree_has_a_row(batch):
    by_student = {}
    for r in batch["rows"]:
        by_student.setdefault(r.student, set()).add(r.status)
    assert by_student["notes_student"] == {"not a notebook"}
    assert by_student["nested_student"] == {"misplaced"}
    assert by_student["submissions"] == {"misplaced"}           # stray.ipynb at the top level
    assert by_student["unknown_nb"] == {"unknown notebook"}
    assert by_student["linked"] == {"not a regular file"}
    with open(batch["out"] / "grades.csv") as f:
        assert len(list(csv.DictReader(f))) == len(batch["rows"])


def test_student_ids_that_are_paths_are_refused(tmp_path):
    from labutils.grading.grade import find_submissions
    subs = tmp_path / "subs"
    for bad in ("..", ".hidden", "a b", "-rf"):
        (subs / "x").mkdir(parents=True, exist_ok=True)
    (subs / ".hidden").mkdir()
    (subs / ".hidden" / f"{NB01}.ipynb").write_text("{}")
    (subs / "ok@uni.edu").mkdir()
    (subs / "ok@uni.edu" / f"{NB01}.ipynb").write_text("{}")
    tasks, problems = find_submissions([subs], {NB01})
    assert [t[0] for t in tasks] == ["ok@uni.edu"]
    assert [p.status for p in problems] == ["invalid student id"]
    tasks, problems = find_submissions([subs / ".." / "subs" / "ok@uni.edu" / f"{NB01}.ipynb"], {NB01})
    assert tasks[0][0] == "ok@uni.edu"


@pytest.mark.sandbox
def test_the_grader_environment_does_not_leak(batch):
    html = (batch["out"] / "feedback" / "env_token" / f"{NB01}.html").read_text()
    assert "RNNLAB_MODE" in html                                   # the student's print did run
    assert "token-that-must-not-leak" not in html


@pytest.mark.sandbox
def test_nothing_of_the_grader_shows_in_proc(batch):
    """/proc/1 inside the sandbox is bubblewrap: its environ and cmdline (and every visible process's, and the
    mount table) hold neither the grader's environment nor its options."""
    html = (batch["out"] / "feedback" / "proc_env" / f"{NB01}.html").read_text()
    assert "1 environ" in html and "1 cmdline" in html and "mountinfo" in html   # the student's reads ran
    assert "token-that-must-not-leak" not in html
    assert "--setenv" not in html and "--ro-bind" not in html and "rnnlab-stage" not in html
    for name in ("HOME", "PWD", "USER", "PYTEST_CURRENT_TEST"):         # the grader's values of these
        if os.environ.get(name):
            assert f"{name}={os.environ[name]} " not in html, name
    assert "PWD=/sandbox " in html and "HOME=/sandbox " in html      # the kernel's own, which it may see


@pytest.mark.sandbox
def test_feedback_runs_no_script_and_shows_no_course_code(batch):
    html = (batch["out"] / "feedback" / "script_output" / f"{NB01}.html").read_text()
    assert "Content-Security-Policy" in html and "script-src" not in html.split("Content-Security-Policy")[1][:200]
    import re
    assert "<script" not in html.lower() and "<svg" not in html.lower()
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+=", html, re.I), "an element with an event handler attribute"
    course = [line.strip() for block in solution_blocks(solution()) for line in block.splitlines()
              if line.strip() and not line.strip().startswith("# HINT:")]       # hints are released on purpose
    empty = (batch["out"] / "feedback" / "empty" / f"{NB01}.html").read_text()
    assert not [line for line in course if line in empty], "course solution text in the feedback of an empty release"
    for path in (batch["out"] / "feedback").rglob("*.html"):
        text = path.read_text()
        assert "HIDDEN TESTS" not in text and "seed=1001" not in text and "grading probe" not in text


@pytest.mark.sandbox
@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium (Debian package chromium) is not installed")
def test_feedback_page_runs_no_script_in_a_browser(batch, tmp_path):
    page = batch["out"] / "feedback" / "script_output" / f"{NB01}.html"
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "<title>" in dom
    title = dom.split("<title>")[1].split("</title>")[0]
    assert title not in ("pwned", "1", "2", "3"), f"a script ran: the title became {title!r}"
    assert "Score:" in dom


@pytest.mark.sandbox
def test_delegation_gets_nothing_and_is_flagged_and_copying_is_flagged(batch):
    row = check(batch, "delegate")
    assert row.points == 0 and "withheld" in row.reason and "reference.rnn_step_forward" in row.flag
    assert "reference" not in check(batch, "solution").flag and "labutils" not in check(batch, "solution").flag
    for student, sign in (("delegate_globals", "__globals__"), ("delegate_vars", "vars"),
                          ("delegate_runpy", "runpy"), ("delegate_when_graded", "'/job'")):
        assert sign in check(batch, student).flag, (student, check(batch, student).flag)
    # a delegating exercise costs only its own check: the next ones run on the reference's recorded answers
    assert check(batch, "delegate", "check_rnn_forward").status == "passed"
    assert sum(r.points for r in batch["rows"] if r.student == "delegate") == 7 - row.max
    a, b = check(batch, "copy_a", "check_bptt"), check(batch, "copy_b", "check_bptt")
    assert "copy_b (" in a.flag and "copy_a (" in b.flag
    assert "copy_a (" in check(batch, "copy_padded", "check_bptt").flag, "dead statements and a swap hide nothing"
    with open(batch["out"] / "similarity.csv") as f:
        pairs = {(r["student_a"], r["student_b"], r["exercise"]) for r in csv.DictReader(f)}
    assert ("copy_a", "copy_b", "rnn_backward") in pairs
    assert not any("empty" in p[:2] for p in pairs), "untouched releases are not copies of each other"


def test_release_strips_solutions_and_hidden_tests_deterministically():
    nb = solution()
    student = release_notebook(nb)
    text = json.dumps(student)
    for block in solution_blocks(nb):
        for line in block.splitlines():
            if line.strip() and not line.strip().startswith("# HINT"):
                assert line.strip() not in text, f"solution text survived: {line!r}"
    assert "BEGIN HIDDEN" not in text and "seed=1001" not in text
    assert nbformat.writes(release_notebook(nb)) == nbformat.writes(student)


def test_grade_refuses_without_a_sandbox_unless_told(monkeypatch, tmp_path, capsys):
    from labutils import __main__ as cli
    from labutils.grading import sandbox

    def unavailable(self, limits=None):
        raise sandbox.SandboxUnavailable("no user namespaces here")
    monkeypatch.setattr(sandbox.Sandbox, "__init__", unavailable)
    (tmp_path / "s" / "alice").mkdir(parents=True)
    (tmp_path / "s" / "alice" / f"{NB01}.ipynb").write_text(nbformat.writes(release_notebook(solution())))
    assert cli.main(["grade", str(tmp_path / "s"), "--out", str(tmp_path / "out")]) == 2
    assert "no user namespaces here" in capsys.readouterr().err
    assert not (tmp_path / "out" / "grades.csv").exists()
    assert cli.main(["grade", str(tmp_path / "s"), "--out", str(tmp_path / "out"), "--no-sandbox"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "grades.csv")))
    assert rows and all("WITHOUT sandbox" in r["flag"] for r in rows)
    assert all(r["status"] == "not implemented" for r in rows)


@pytest.mark.sandbox
def test_the_same_tasks_run_on_a_dask_cluster(tmp_path):
    from dask.distributed import LocalCluster
    subs = tmp_path / "subs"
    for student, nb in (("sol", solution()), ("wrong", with_cell("rnn_step_forward", WRONG_FORWARD))):
        (subs / student).mkdir(parents=True)
        (subs / student / f"{NB01}.ipynb").write_text(nbformat.writes(nb))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        rows = grade([subs], NOTEBOOKS, tmp_path / "out", scheduler=cluster.scheduler_address, timeout=60,
                     secret=b"test-course-secret")
    points = {s: sum(r.points for r in rows if r.student == s) for s in ("sol", "wrong")}
    detail = "\n".join(f"{r.student} {r.exercise}: {r.status} {r.reason[:400]}" for r in rows)
    assert points == {"sol": 7, "wrong": 6}, detail      # one bug, one failing check
    assert (tmp_path / "out" / "feedback" / "wrong" / f"{NB01}.html").exists()


def test_the_kernel_gets_the_mode_and_the_grader_keeps_its_environment(monkeypatch, tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    from labutils.execute import execute
    monkeypatch.delenv("RNNLAB_MODE", raising=False)
    nb = new_notebook(cells=[new_code_cell("import os; print(os.environ['RNNLAB_MODE'])")])
    out = execute(nb, tmp_path, env={**os.environ, "RNNLAB_MODE": "quick"})
    assert out.cells[0].outputs[0]["text"] == "quick\n"
    assert "RNNLAB_MODE" not in os.environ
    assert sys.executable


def test_questions_have_answer_cells_that_the_release_empties_and_the_key_keeps(tmp_path):
    from labutils.grading.release import is_answer, release
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    written = release(paths, tmp_path / "student")
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        answers = [c.source for c in nb.cells if is_answer(c)]
        assert len(answers) >= 3, f"{path.name}: every question needs an instructor's answer cell"
        student = nbformat.read(tmp_path / "student" / path.name, as_version=4)
        assert [c.source for c in student.cells if is_answer(c)] == ["YOUR ANSWER HERE"] * len(answers)
        text = json.dumps(student)
        assert not any(a.split(".** ", 1)[1][:60] in text for a in answers), f"{path.name}: an answer shipped"
        key = (tmp_path / "answer-keys" / f"{path.stem}.md").read_text()
        assert all(a in key for a in answers) and key.count("**Question") == len(answers)
    assert not list((tmp_path / "student").glob("*.md")), "answer keys never sit beside the student files"
    assert len(written) == 2 * len(paths)


def points(batch, student):
    rows = [r for r in batch["rows"] if r.student == student and r.notebook == NB01]
    return sum(r.points for r in rows), sum(r.max for r in rows), rows


@pytest.mark.sandbox
def test_the_smaller_holes_are_closed(batch):
    full = points(batch, "solution")[1]
    assert points(batch, "bom")[0] == full, "a byte-order mark is not part of the notebook"
    for student in ("bad_metadata", "bad_metadata_list"):           # malformed metadata costs that cell only
        got, top, rows = points(batch, student)
        assert top == full and 0 < got < full and "grader error" not in {r.status for r in rows}, rows
    got, top, rows = points(batch, "deep_ast")                      # too deep to analyse: its own check only
    assert top == full and got == full - 3 and "grader error" not in {r.status for r in rows}, rows
    for student in ("Zoë_Müller", "王芳", "a" * 100):               # real names; the longest id allowed
        assert points(batch, student)[0] == full, student
        assert (batch["out"] / "feedback" / student / f"{NB01}.html").exists()
    refused = [r for r in batch["rows"] if r.status == "invalid student id" and r.student.startswith("a" * 100)]
    assert len(refused) == 1 and refused[0].student == "a" * 101, "a refused id is never filed as a classmate's"
    [row] = [r for r in batch["rows"] if r.student == "hardlinked"]
    assert row.status == "not a regular file" and "hard link" in row.reason


@pytest.mark.sandbox
def test_the_seccomp_filter_denies_what_an_attacker_needs(batch):
    from labutils.grading.sandbox import seccomp_program
    if seccomp_program() is None:
        pytest.skip("pyseccomp or libseccomp is missing: the sandbox runs without a seccomp filter")
    html = (batch["out"] / "feedback" / "syscalls" / f"{NB01}.html").read_text()
    for name in ("ptrace", "unshare", "mount", "bpf", "memfd_create"):   # memfds would hold memory no limit counts
        assert f"syscall {name} -1 1" in html, f"{name} should fail with EPERM"


@pytest.mark.sandbox
def test_dev_shm_is_small_and_private(batch):
    html = (batch["out"] / "feedback" / "fill_shm" / f"{NB01}.html").read_text()
    stopped = re.search(r"shm stopped after (\d+) MiB", html)
    assert stopped and int(stopped.group(1)) <= 64, "the sandbox's /dev/shm holds at most 64 MiB"
    assert not os.path.exists("/dev/shm/filler")


@pytest.mark.sandbox
def test_feedback_shows_a_students_links_as_text(batch):
    html = (batch["out"] / "feedback" / "phishing_link" / f"{NB01}.html").read_text()
    assert "regrade here" in html                               # the student's cell is shown, as text
    assert not re.search(r"<a\b[^>]*href", html, flags=re.I), "no link in the feedback page can be followed"


def test_the_same_submission_gets_the_same_inputs_and_another_student_others(tmp_path, monkeypatch):
    from labutils.grading.grade import course_secret, submission_seed
    assert submission_seed(b"s", "01_bptt_derivation", "ann") == submission_seed(b"s", "01_bptt_derivation", "ann")
    seeds = {submission_seed(b"s", "01_bptt_derivation", f"student{i}") for i in range(1000)}
    assert len(seeds) > 990, "students get different inputs"
    assert submission_seed(b"other", "01_bptt_derivation", "ann") != submission_seed(b"s", "01_bptt_derivation",
                                                                                      "ann")
    monkeypatch.delenv("RNNLAB_GRADER_SECRET", raising=False)
    path = tmp_path / "conf" / "grader-secret"
    first = course_secret(path)
    assert len(first) == 64 and course_secret(path) == first and oct(path.stat().st_mode)[-3:] == "600"
    monkeypatch.setenv("RNNLAB_GRADER_SECRET", "from-the-environment")
    assert course_secret(path) == b"from-the-environment"


def test_a_killed_worker_costs_its_own_submission_only_and_an_interrupted_batch_resumes(tmp_path):
    """The kernel's OOM killer ends a grading worker: that submission gets a row, the batch goes on; the
    results already journaled are not graded again, so a rerun (after an interrupt, or a regrade) resumes."""
    from labutils.grading.grade import _map

    def task(student, submission="print(1)"):
        return dict(student=student, notebook=NB01, submission=submission, source="{}", timeout=1, mode="quick",
                    sandbox=False, seed=7)

    def fn(task):                        # stands in for grading: one submission kills its worker process
        import os
        if task["student"] == "killer":
            os._exit(9)
        return {"rows": [dict(student=task["student"], notebook=task["notebook"], exercise="-", points=1.0,
                              max=1.0, status="passed", reason="", flag="")], "feedback": None, "exercises": {}}

    from dask.distributed import Client, LocalCluster
    tasks = [task("ann"), task("killer"), task("bob")]
    # worker processes, as on a cluster (locally, each thread's grading child is what can die: the next test)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cluster:
        first = _map(tasks, 2, cluster.scheduler_address, tmp_path / "journal", fn=fn)
        with Client(cluster) as client:   # the nanny restarts the killed worker: let it start before closing,
            client.wait_for_workers(2, timeout=120)       # or dask's close can race it ("can only join ...")
    assert [r["rows"][0]["status"] for r in first] == ["passed", "grader error", "passed"]
    assert "ended abnormally" in first[1]["rows"][0]["reason"]
    graded = []

    def counting(task):
        graded.append(task["student"])
        return fn(task) if task["student"] != "killer" else fn(dict(task, student="killer-fixed"))

    tasks[2] = task("bob", submission="print(2)")            # bob resubmitted
    second = _map(tasks, 1, None, tmp_path / "journal", fn=counting)
    assert sorted(graded) == ["bob", "killer"], "only the changed and the unfinished submissions are graded"
    assert second[0] == first[0]


def test_a_killed_grading_child_costs_its_own_submission_only():
    """Locally the grader's own work on a submission is a child process (what the OOM killer would pick):
    killed mid-task, its submission gets a 'grader error' row and the next submission a fresh child."""
    import signal
    import threading

    import labutils.grading.grade as g
    slow = dict(student="ann", notebook=NB01, submission=nbformat.writes(with_cell("rnn_step_forward",
                "import time\ntime.sleep(120)")), source=nbformat.writes(solution()), timeout=150, mode="quick",
                sandbox=False, seed=7, cells=1)
    g._CHILD.child = child = g._GradingChild()
    threading.Timer(5.0, lambda: os.kill(child.proc.pid, signal.SIGKILL)).start()
    row = g._safe_task(slow)["rows"][0]
    assert row["status"] == "grader error" and "died" in row["reason"], row
    after = g._safe_task(dict(slow, student="bob", submission="{ not json"))["rows"][0]
    assert after["status"] == "invalid notebook", after
    g._map([], 1, None)                            # ends this process's children
    assert not g._CHILDREN


@pytest.mark.sandbox
def test_a_forged_executed_notebook_is_shown_in_bounded_size(batch):
    page = (batch["out"] / "feedback" / "forged_executed" / f"{NB01}.html").read_text()
    assert len(page) < 2_000_000 and "too large to show" in page


def _one_submission(tmp_path, text=FORWARD):
    subs = tmp_path / "subs"
    (subs / "ann").mkdir(parents=True)
    (subs / "ann" / f"{NB01}.ipynb").write_text(nbformat.writes(with_cell("rnn_step_forward", text)))
    return subs


@pytest.mark.sandbox
def test_the_graders_own_work_on_a_submission_has_a_memory_and_a_time_limit(tmp_path, monkeypatch):
    """grade_task runs in a child of the worker: past GRADER_MEMORY_BYTES (its own memory, not the sandbox's)
    or past its time, that submission gets a 'grader limit' row and the next one a fresh child."""
    import labutils.grading.grade as g
    subs = _one_submission(tmp_path)
    monkeypatch.setattr(g, "GRADER_MEMORY_BYTES", 20 * 2**20)      # less than the child needs to import numpy
    rows = grade([subs], NOTEBOOKS, tmp_path / "out1", timeout=20, secret=b"test-course-secret")
    assert [(r.status, r.points) for r in rows] == [("grader limit", 0.0)] and "memory" in rows[0].reason
    monkeypatch.setattr(g, "GRADER_MEMORY_BYTES", 4 * 2**30)
    cells = len(g.assemble(solution(), {"cells": []})[0].cells)
    monkeypatch.setattr(g, "GRADER_EXTRA_SECONDS", -(20 * cells + 120) + 1)   # one second for the whole task
    rows = grade([subs], NOTEBOOKS, tmp_path / "out2", timeout=20, secret=b"test-course-secret")
    assert [r.status for r in rows] == ["grader limit"] and "more than 1 s" in rows[0].reason
    monkeypatch.setattr(g, "GRADER_EXTRA_SECONDS", 180)
    rows = grade([subs], NOTEBOOKS, tmp_path / "out3", timeout=20, secret=b"test-course-secret")
    assert sum(r.points for r in rows) == 7, "a fresh child grades the next submission"


NB10 = "10_parallel_recurrences"
ZEROS_SCAN = "def scan_log(log_a, log_b, log_h0):\n    return torch.zeros_like(log_a)\n"


@pytest.mark.sandbox
def test_notebook_10_is_graded_like_the_others(tmp_path):
    """The PyTorch scans in the sandbox: full marks for the solution, none for the release; a delegated or wrong
    scan_log costs only its own check (mingru_parallel, which calls it, runs on the reference's answers); patching
    torch's comparisons inside the sandbox changes nothing, because the verdicts are computed outside."""
    source = nbformat.read(NOTEBOOKS / f"{NB10}.ipynb", as_version=4)

    def nb_with(grade_id, text):
        nb = nbformat.from_dict(json.loads(json.dumps(source)))
        for cell in nb.cells:
            if grade_meta(cell).get("grade_id") == grade_id:
                cell.source = text
        return nb

    subs = tmp_path / "subs"
    submissions = {
        "solution": source, "release": release_notebook(source),
        "delegate": nb_with("scan_log", "from labutils.nn import minrnn\nscan_log = minrnn.scan_log\n"),
        "wrong": nb_with("scan_log", ZEROS_SCAN),
        "patched": nb_with("scan_log", "torch.allclose = lambda *a, **k: True\n"
                                       "torch.Tensor.__sub__ = lambda self, other: torch.zeros_like(self)\n"
                                       "import numpy\nnumpy.allclose = lambda *a, **k: True\n" + ZEROS_SCAN),
    }
    for student, nb in submissions.items():
        (subs / student).mkdir(parents=True)
        (subs / student / f"{NB10}.ipynb").write_text(nbformat.writes(nb))
    rows = grade([subs], NOTEBOOKS, tmp_path / "out", jobs=2, timeout=60, secret=b"test-course-secret")
    by = {(r.student, r.exercise): r for r in rows}
    detail = "\n".join(f"{r.student} {r.exercise}: {r.status} {r.points}/{r.max} {r.reason[:300]}" for r in rows)
    points = {s: sum(r.points for r in rows if r.student == s) for s in submissions}
    assert points == {"solution": 8, "release": 0, "delegate": 6, "wrong": 6, "patched": 6}, detail
    assert "withheld" in by["delegate", "check_scan_log"].reason and by["delegate", "check_scan_log"].flag, detail
    for student in ("delegate", "wrong", "patched"):
        assert by[student, "check_mingru_parallel"].status == "passed", detail
    assert by["wrong", "check_scan_log"].status == by["patched", "check_scan_log"].status == "failed", detail
