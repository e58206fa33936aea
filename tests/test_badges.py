import copy
import json
import shutil

import pytest

from labutils import badges, config
from labutils.config import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_badge_and_setup_cell_agrees_with_the_setting():
    assert len(NOTEBOOKS) == 10
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        setup = [c for c in nb["cells"] if badges.is_setup_cell(c)]
        assert len(setup) == 1 and "".join(setup[0]["source"]) == badges.setup_source(config.REPO), path.name
        assert badges.badge_url(config.REPO, path.stem) in "".join(nb["cells"][0]["source"]), path.name
        assert badges.apply(copy.deepcopy(nb), config.REPO, path.stem) == 0, f"{path.name} is out of date"


def test_badges_command_points_a_fork_everywhere(tmp_path):
    (tmp_path / "labutils").mkdir()
    shutil.copy(PROJECT_ROOT / "labutils" / "config.py", tmp_path / "labutils" / "config.py")
    shutil.copytree(PROJECT_ROOT / "notebooks", tmp_path / "notebooks")
    changed = badges.rewrite("my-course/rnn-lab-2027", root=tmp_path)
    assert len(changed) == 11                                   # the setting and the ten notebooks
    assert 'REPO = "my-course/rnn-lab-2027"' in (tmp_path / "labutils" / "config.py").read_text()
    for path in sorted((tmp_path / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        text = path.read_text()
        assert "github.com/my-course/rnn-lab-2027" in text and config.REPO not in text
        assert badges.badge_url("my-course/rnn-lab-2027", path.stem) in text
    assert badges.rewrite(root=tmp_path) == []                  # idempotent: the setting already agrees


@pytest.mark.parametrize("repo", ["", "noslash", "a/b/c", "x/y z", "../evil"])
def test_a_bad_repository_name_is_refused(repo):
    with pytest.raises(ValueError, match="OWNER/NAME"):
        badges.check_repo(repo)
