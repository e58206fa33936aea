"""The tools courses put around notebooks leave everything working: nbstripout (the git filter, which renumbers
cell ids) and jupytext (paired .py files)."""
import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labutils import badges, config
from labutils.grading.release import is_check, is_exercise, release_notebook

NOTEBOOKS = sorted((config.PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BIN = Path(sys.executable).parent


def test_nbstripout_with_default_settings_breaks_nothing(tmp_path):
    if not (BIN / "nbstripout").exists():
        pytest.skip("nbstripout is not installed (pip install nbstripout)")
    for path in NOTEBOOKS:
        shutil.copy(path, tmp_path / path.name)
    stripped = sorted(tmp_path.glob("*.ipynb"))
    subprocess.run([str(BIN / "nbstripout"), *map(str, stripped)], check=True, timeout=120)
    for before, after in zip(NOTEBOOKS, stripped):
        a, b = json.loads(before.read_text()), json.loads(after.read_text())
        assert [c.get("id") for c in a["cells"]] != [c.get("id") for c in b["cells"]], "nbstripout kept the ids"
        # the setup cell is still found, and the badge command still rewrites it
        assert sum(badges.is_setup_cell(c) for c in b["cells"]) == 1, after.name
        assert badges.apply(copy.deepcopy(b), "my-course/rnn-lab", after.stem) == 2, after.name
        # the release and the grader's cell selection (nbgrader metadata, tags) are unchanged
        na, nb_ = nbformat.reads(json.dumps(a), 4), nbformat.reads(json.dumps(b), 4)
        assert [c.source for c in release_notebook(na).cells] == [c.source for c in release_notebook(nb_).cells]
        for select in (is_exercise, is_check):
            assert [c.metadata["nbgrader"]["grade_id"] for c in na.cells if select(c)] == \
                   [c.metadata["nbgrader"]["grade_id"] for c in nb_.cells if select(c)], after.name
        assert [c.metadata.get("tags") for c in na.cells] == [c.metadata.get("tags") for c in nb_.cells]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_jupytext_round_trip_is_exact(path):
    pytest.importorskip("jupytext")
    out = subprocess.run([sys.executable, "-m", "jupytext", "--test-strict", "--to", "py:percent", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
