"""The real nbgrader on our notebooks: generate_assignment accepts all ten solution notebooks unchanged, and
autograde gives the solution every automatic point and the student release none (notebooks 01 and 04, the
fast ones, in quick mode through the shipped nbgrader_config.py)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")
from nbgrader.api import Gradebook  # noqa: E402

from labutils.config import PROJECT_ROOT  # noqa: E402

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
FAST = ("01_bptt_derivation", "04_snapshot_probing")


def nbgrader(course, *args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0 and "[ERROR]" not in out.stderr.replace("| ERROR]", "[ERROR]"), out.stderr[-3000:]
    return out


def course(tmp_path, name, notebooks):
    root = tmp_path / name
    (root / "source" / name).mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "labutils" / "grading" / "nbgrader_config.py", root / "nbgrader_config.py")
    for path in notebooks:
        shutil.copy(path, root / "source" / name / path.name)
    return root


def test_generate_assignment_accepts_all_ten_and_matches_our_release_cell_by_cell(tmp_path):
    """One release format: nbgrader's generate_assignment and `labutils release` give the same cells (same
    sources, hints kept by both), so a course can switch between them."""
    import nbformat

    from labutils.grading.release import release_notebook
    root = course(tmp_path, "all", NOTEBOOKS)
    nbgrader(root, "generate_assignment", "all")
    released = sorted(p.name for p in (root / "release" / "all").glob("*.ipynb"))
    assert released == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        theirs = nbformat.read(root / "release" / "all" / path.name, as_version=4)
        text = nbformat.writes(theirs)
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, path.name
        ours = release_notebook(nbformat.read(path, as_version=4))
        assert len(ours.cells) == len(theirs.cells), path.name
        for k, (a, b) in enumerate(zip(ours.cells, theirs.cells)):
            assert a.cell_type == b.cell_type, f"{path.name} cell {k}"
            assert a.source.strip() == b.source.strip(), \
                f"{path.name} cell {k}:\nours:\n{a.source}\nnbgrader:\n{b.source}"
        hints = sum(c.source.count("# HINT:") for c in theirs.cells)
        assert hints == sum(c.source.count("# HINT:") for c in nbformat.read(path, as_version=4).cells), path.name


def test_autograde_gives_the_solution_full_marks_and_the_release_zero(tmp_path):
    root = course(tmp_path, "fast", [PROJECT_ROOT / "notebooks" / f"{n}.ipynb" for n in FAST])
    nbgrader(root, "generate_assignment", "fast")
    for student, folder in (("solution", root / "source" / "fast"), ("release", root / "release" / "fast")):
        (root / "submitted" / student / "fast").mkdir(parents=True)
        for name in FAST:
            shutil.copy(folder / f"{name}.ipynb", root / "submitted" / student / "fast" / f"{name}.ipynb")
    nbgrader(root, "autograde", "fast")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        scores = {(s, nb.name): (nb.code_score, nb.max_code_score)
                  for s in ("solution", "release") for nb in gb.find_submission("fast", s).notebooks}
    for name in FAST:
        got, top = scores["solution", name]
        assert top > 0 and got == top, f"{name}: the solution got {got} of {top} automatic points"
        assert scores["release", name][0] == 0, f"{name}: the empty release got {scores['release', name][0]} points"
