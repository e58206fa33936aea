"""CONTRIBUTING.md's recipe, proven: ``python -m labutils new-lesson`` writes a lesson that ``run``, ``release``,
``grade`` and ``site`` pick up with no edit to a shared file. It runs on a copy of the package (PYTHONPATH puts
the copy first), so the checkout is never touched."""
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labutils.config import PROJECT_ROOT
from labutils.lessons import BUDGET_CELL
from labutils.newlesson import new_lesson

STEM = "99_throwaway"


def _files(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def _labutils(root, *args, env=None):
    done = subprocess.run([sys.executable, "-m", "labutils", *args], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root), **(env or {})}, timeout=600)
    assert done.returncode == 0, f"labutils {args[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course (the package, pyproject.toml, an empty notebooks/) with the new lesson written in it
    by the command line -> (root, the files that changed or appeared)."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(PROJECT_ROOT / "labutils", root / "labutils", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root)
    (root / "notebooks").mkdir()
    before = _files(root)
    _labutils(root, "new-lesson", STEM, "A throwaway lesson")
    after = _files(root)
    changed = sorted(name for name in after if before.get(name) != after[name])
    assert set(before) <= set(after), "new-lesson removed a file"
    return root, changed


def test_new_lesson_only_adds_its_own_three_files(course):
    _, changed = course
    assert changed == ["labutils/lessons/throwaway.py", "labutils/throwaway.py", "notebooks/99_throwaway.ipynb"]


def test_its_modules_pass_the_projects_lint(course):
    root, changed = course
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed beside this Python")
    done = subprocess.run([str(ruff), "check", "--no-cache", "--config", str(PROJECT_ROOT / "pyproject.toml"),
                           *changed], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_new_lesson_refuses_a_taken_number_or_a_bad_name(course, tmp_path):
    root, _ = course
    with pytest.raises(FileExistsError, match="99_throwaway"):
        new_lesson("99_other", "x", root=root)
    for bad in ("9_x", "10_Caps", "10_class", "10-dash"):
        with pytest.raises(ValueError, match="not a lesson's name"):
            new_lesson(bad, "x", root=tmp_path)
    with pytest.raises(ValueError, match="not a checkout of the course"):
        new_lesson("10_fine", "x", root=tmp_path)          # e.g. an installed wheel's site-packages


def test_run_release_grade_and_site_pick_it_up(course, sandbox_runs):
    root, _ = course
    notebook = f"notebooks/{STEM}.ipynb"
    _labutils(root, "run", "--mode", "quick", notebook)
    report = json.loads((root / "build" / "results.json").read_text())[STEM]
    assert report["status"] == "ok" and 0.04 < report["results"]["variance_ratio"] < 0.07, report

    _labutils(root, "release", "--out", "release", notebook)
    release = (root / "release" / f"{STEM}.ipynb").read_text()
    assert "raise NotImplementedError" in release and "BEGIN SOLUTION" not in release and "seed=3001" not in release

    for student, path in (("alice", root / notebook), ("bob", root / "release" / f"{STEM}.ipynb")):
        (root / "submissions" / student).mkdir(parents=True)
        shutil.copy(path, root / "submissions" / student)
    sandbox = [] if sandbox_runs else ["--no-sandbox"]
    _labutils(root, "grade", "submissions", "--source", "notebooks", "--out", "grading", "--jobs", "1", *sandbox,
              env={"RNNLAB_GRADER_SECRET": "the-new-lesson-test-secret"})
    with open(root / "grading" / "grades.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert (rows["alice"]["exercise"], rows["alice"]["points"], rows["alice"]["max"]) == \
        ("check_moving_average", "1.0", "1.0"), rows["alice"]
    assert rows["bob"]["points"] == "0.0", rows["bob"]

    _labutils(root, "site", "--edition", "student", "--mode", "quick", "--out", "site", notebook)
    page = (root / "site" / f"{STEM}.html").read_text()
    assert "A throwaway lesson" in page and "h, out = np.zeros" not in page, "the student page, without the solution"


def test_the_skeleton_follows_the_conventions_the_other_notebooks_are_tested_for(course):
    root, _ = course
    nb = nbformat.read(root / "notebooks" / f"{STEM}.ipynb", as_version=4)
    assert nb.cells[0].source.startswith("# 99 · A throwaway lesson") and "**Time:**" in nb.cells[0].source
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags[1] == ["colab-setup"] and tags[2] == ["parameters"] and tags[3] == ["budget"]
    assert nb.cells[3].source == BUDGET_CELL
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "committed clean"
