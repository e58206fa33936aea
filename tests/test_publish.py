"""The student repository (`make publish`): what it holds, that it holds no secret, and that it installs
(a regular, non-editable install) on every Python the machine has and runs a release top to bottom."""
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from labutils import badges, publish
from labutils.config import PROJECT_ROOT
from labutils.grading.release import is_exercise
from labutils.leaks import course_secrets, find_leaks

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPO = "my-course/rnn-lab-2027"
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")

# Run inside the installed venv, outside any checkout: the release of notebook 01 top to bottom (its checks stop
# only on the unfinished exercises), then the data the package ships.
RUN_RELEASE = """
import json, sys
from pathlib import Path
from labutils.runner import execute_notebook
status, error, results, wall, nb = execute_notebook(Path(sys.argv[1]), Path("executed.ipynb"),
                                                    Path("results.json"), "quick", 600, allow_errors=True)
errors = [o["ename"] for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
last = [c for c in nb.cells if c.cell_type == "code"][-1]
from labutils.data import load_corpus
from labutils.snapshot import load_snapshot
import labutils
snap = load_snapshot()
print(json.dumps({"status": status, "errors": errors, "last_ran": last.get("execution_count") is not None,
                  "corpus": len(load_corpus("coriolanus")), "snapshot_vocab": len(snap.vocab),
                  "package": labutils.__file__, "version": sys.version.split()[0]}))
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return publish.publish(REPO, tmp_path_factory.mktemp("pub") / "student-repo", NOTEBOOKS)


def test_the_student_repository_holds_the_course_and_no_secret(published):
    files = {p.relative_to(published).as_posix() for p in published.rglob("*") if p.is_file()}
    top = {f.split("/")[0] for f in files}
    assert top == {".binder", ".devcontainer", "CHANGELOG.md", "CITATION.cff", "LICENSE", "README.md", "data",
                   "environment.yml", "labutils", "notebooks", "pyproject.toml"}
    assert {f for f in files if f.startswith("notebooks/")} == {f"notebooks/{p.name}" for p in NOTEBOOKS}
    assert not any("answer-key" in f or "__pycache__" in f or f.endswith(".pyc") for f in files)
    assert "labutils/assets/plays/coriolanus.txt" in files and "labutils/assets/char-rnn-snapshot.npz" in files
    solutions = [nbformat.read(p, as_version=4) for p in NOTEBOOKS]
    assert find_leaks(published, course_secrets(solutions), skip=("labutils",)) == []
    for path in NOTEBOOKS:
        text = (published / "notebooks" / path.name).read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, path.name
        exercises = any(is_exercise(c) for c in nbformat.read(path, 4).cells)
        assert ("YOUR CODE HERE" in text) == exercises, path.name
        nb = json.loads(text)
        assert badges.apply(nb, REPO, path.stem) == 0, f"{path.name} does not point at {REPO}"
        assert f"github.com/{REPO}" in text and badges.badge_url(REPO, path.stem) in text
    assert f'REPO = "{REPO}"' in (published / "labutils" / "config.py").read_text()
    readme = (published / "README.md").read_text()
    assert "make test" not in readme and "sandbox" not in readme          # the students' page, not ours
    assert all(badges.badge_url(REPO, p.stem) in readme for p in NOTEBOOKS)


def test_a_leak_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "release_notebook", lambda nb: nb)      # a "release" that keeps the solutions
    with pytest.raises(publish.PublishError, match="would publish"):
        publish.publish(REPO, tmp_path / "out", NOTEBOOKS[:1])
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def interpreters():
    """{version: path} of each supported CPython this machine has (PATH, then pyenv's folders)."""
    found = {}
    for version in SUPPORTED:
        candidates = [shutil.which(f"python{version}")]
        candidates += sorted(map(str, Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}")))
        for exe in filter(None, candidates):
            out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip() == version:
                found[version] = exe
                break
    return found


def install_and_run(exe, repo_dir, work):
    work.mkdir()
    subprocess.run([exe, "-m", "venv", str(work / "venv")], check=True, timeout=300)
    python = str(work / "venv" / "bin" / "python")
    source = shutil.copytree(repo_dir, work / "repo")     # its own copy: two builds in one build/ collide
    pip = subprocess.run([python, "-m", "pip", "install", "-q", str(source)], capture_output=True, text=True,
                         timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RNNLAB_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(RNNLAB_CACHE=str(work / "cache"), RNNLAB_OFFLINE="1", PATH=f"{work / 'venv' / 'bin'}:{env['PATH']}")
    out = subprocess.run([python, "-c", RUN_RELEASE, str(repo_dir / "notebooks" / "01_bptt_derivation.ipynb")],
                         cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_it_installs_on_every_python_and_a_release_runs_top_to_bottom(published, tmp_path):
    found = interpreters()
    assert "%d.%d" % sys.version_info[:2] in found
    with ThreadPoolExecutor(2) as pool:
        runs = dict(zip(found, pool.map(lambda v: install_and_run(found[v], published, tmp_path / v), found)))
    for version, run in runs.items():
        print(version, run)
        assert run["version"].startswith(version) and "site-packages" in run["package"], run
        assert run["status"] == "ok" and run["last_ran"], run             # ran to the end
        assert run["errors"] and set(run["errors"]) == {"NotImplementedError"}, run   # only the exercises stop
        assert run["corpus"] == 155106 and run["snapshot_vocab"] == 63, run
    missing = sorted(set(SUPPORTED) - set(found))
    if missing:
        print(f"not on this machine (not tested): Python {', '.join(missing)}")
    assert re.search(r'requires-python = ">=3\.10"', (published / "pyproject.toml").read_text())
