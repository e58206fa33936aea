"""Release and grading on a small notebook that the tests make, including hostile submissions."""
import csv
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labutils.grading.grade import grade
from labutils.grading.release import release_notebook, solution_blocks


def exercise(gid, body):
    cell = new_code_cell(body)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": gid, "locked": False, "schema_version": 3, "solution": True}
    return cell


def check(gid, body, points):
    cell = new_code_cell(body)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": gid, "locked": True, "points": points,
                                 "schema_version": 3, "solution": False}
    return cell


ADD = "def add(a, b):\n    ### BEGIN SOLUTION\n    # HINT: one operator\n    return a + b\n    ### END SOLUTION\n"
SQUARE = "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION\n"


def source_notebook():
    return new_notebook(cells=[
        new_markdown_cell("# A tiny lab"),
        new_code_cell("import math"),
        exercise("add", ADD),
        check("check_add", "assert add(2, 3) == 5, 'add(2, 3) should be 5'\n### BEGIN HIDDEN TESTS\n"
                           "assert add(-1, 1) == 0, 'hidden: add(-1, 1)'\n### END HIDDEN TESTS", 2),
        exercise("square", SQUARE),
        check("check_square", "assert square(3) == 9, 'square(3) should be 9'", 1),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


@pytest.fixture
def course(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    nb = source_notebook()
    nbformat.write(nb, src / "01_tiny.ipynb")
    return src, nb


def test_release_strips_solutions_and_hidden_tests_deterministically(course):
    src, nb = course
    student = release_notebook(nb)
    text = json.dumps(student)
    for block in solution_blocks(nb):
        for line in block.splitlines():
            if line.strip() and not line.strip().startswith("# HINT"):
                assert line.strip() not in text, f"solution text survived: {line!r}"
    assert "hidden:" not in text and "BEGIN HIDDEN" not in text
    assert "raise NotImplementedError()" in student.cells[2].source and "# HINT: one operator" in student.cells[2].source
    assert student.cells[2].metadata == nb.cells[2].metadata
    assert nbformat.writes(release_notebook(nb)) == nbformat.writes(student)


def variant(nb, change):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    change(nb)
    return nb


def set_source(i, text):
    def change(nb):
        nb.cells[i].source = text
    return change


def test_hostile_submissions_each_get_a_clear_status(course, tmp_path):
    src, nb = course
    subs = tmp_path / "submissions"
    released = release_notebook(nb)

    def submit(student, notebook=None, raw=None):
        folder = subs / student
        folder.mkdir(parents=True)
        path = folder / "01_tiny.ipynb"
        path.write_text(raw if raw is not None else nbformat.writes(notebook))

    submit("solution", nb)
    submit("empty", released)
    submit("deleted", variant(nb, lambda n: n.cells.pop(4)))
    submit("duplicated", variant(nb, lambda n: n.cells.insert(5, variant(n, set_source(4, "def square(x):\n    return 0")).cells[4])))
    submit("reordered", variant(nb, lambda n: n.cells.reverse()))
    submit("loop", variant(nb, set_source(2, "while True:\n    pass")))
    submit("exit", variant(nb, set_source(2, "import sys\nsys.exit(1)")))
    submit("killed", variant(nb, set_source(4, "import os\nos._exit(1)")))
    submit("huge", variant(nb, set_source(2, ADD + "print('x' * 5_000_000)")))
    submit("not_json", raw="{ this is not json")
    submit("wrong", variant(nb, set_source(2, "def add(a, b):\n    return a - b")))
    rows = grade([subs], src, tmp_path / "out", jobs=2, timeout=5)
    table = {(r.student, r.exercise): r for r in rows}

    def status(student):
        return (table[student, "check_add"].status, table[student, "check_square"].status)

    assert status("solution") == ("passed", "passed")
    assert status("empty") == ("not implemented", "not implemented")
    assert status("deleted") == ("passed", "missing")
    assert status("duplicated") == ("passed", "failed") and "more than once" in table["duplicated", "check_square"].reason
    assert status("reordered") == ("passed", "passed")
    assert status("loop") == ("timeout", "passed")
    assert status("exit") == ("error", "passed") and "SystemExit" in table["exit", "check_add"].reason
    assert status("killed") == ("passed", "kernel died")
    assert status("huge") == ("passed", "passed")
    assert status("not_json") == ("invalid notebook", "invalid notebook")
    assert status("wrong") == ("failed", "passed") and "add(2, 3) should be 5" in table["wrong", "check_add"].reason
    assert sum(r.points for r in rows if r.student == "solution") == 3
    assert sum(r.points for r in rows if r.student == "empty") == 0

    with open(tmp_path / "out" / "grades.csv") as f:
        csv_rows = list(csv.DictReader(f))
    assert list(csv_rows[0]) == ["student", "notebook", "exercise", "points", "max", "status", "reason"]
    assert len(csv_rows) == len(rows) == 22
    feedback = tmp_path / "out" / "feedback" / "huge" / "01_tiny.html"
    assert feedback.exists() and feedback.stat().st_size < 2_000_000
    assert "Score: 3 / 3" in feedback.read_text()


def test_the_kernel_gets_the_mode_and_the_grader_keeps_its_environment(monkeypatch, tmp_path):
    from labutils.grading.grade import execute
    monkeypatch.delenv("RNNLAB_MODE", raising=False)
    nb = new_notebook(cells=[new_code_cell("import os; print(os.environ['RNNLAB_MODE'])")])
    out = execute(nb, tmp_path, mode="quick")
    assert out.cells[0].outputs[0]["text"] == "quick\n"
    assert "RNNLAB_MODE" not in __import__("os").environ
