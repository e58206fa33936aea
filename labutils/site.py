"""The course website: ``make site`` -> build/site/, static HTML that works offline and is safe to publish.

The student edition (default) is each notebook's release (solutions, hidden tests and the instructors'
answers removed), executed, so that the fallbacks fill in what the exercises would have computed and each
check shows the message a student first sees. The solutions edition (``--edition solutions``) executes the
solution notebooks, for self-study. MkDocs (Material theme, web fonts off) with mkdocs-jupyter renders the
README as the front page and one page per notebook; MathJax 2.7 from jupyter-server-mathjax is copied in, so
math renders with no network. Before the site is written, every built file is searched for the course's
secrets (solution lines, hidden tests, answers): a student edition that holds one is not published.
"""
import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from labutils.atomic import write_text
from labutils.badges import COLAB_BADGE_URL
from labutils.config import REPO
from labutils.grading.release import release_notebook, secret_lines

MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"   # the configs jupyter-server-mathjax ships
# The badge image is served from colab.research.google.com; the site carries its own, so it shows offline.
COLAB_BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img"
 aria-label="Open In Colab">
<rect width="117" height="20" rx="3" fill="#555"/><rect x="0" width="20" height="20" rx="3" fill="#f9ab00"/>
<circle cx="10" cy="10" r="5" fill="none" stroke="#fff" stroke-width="2"/>
<text x="68" y="14" fill="#fff" font-family="Verdana,sans-serif" font-size="11" text-anchor="middle">
Open In Colab</text>
</svg>
"""
MIN_SECRET_CHARS = 16        # shorter lines ("return h", "h = h0") are too common to count as a leak


class SiteError(RuntimeError):
    """The site was not built: a notebook failed, or the student edition would leak course secrets."""


def words(text):
    """Text as a reader meets it, reduced to its words: tags dropped, entities and JSON escapes decoded, and
    only letters and digits kept. Syntax highlighting splits code into spans and Markdown turns ** into
    <strong>, so secrets and built files are compared in this form."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("\\n", " ")
    return " ".join(re.findall(r"[A-Za-z0-9]+", text))


def shown_on_purpose(nb):
    """The words a student's copy shows by design: its Markdown and its '# HINT:' lines."""
    return " ".join(words(c.source) if c.cell_type == "markdown" else
                    " ".join(words(line) for line in c.source.splitlines() if line.lstrip().startswith("# HINT:"))
                    for c in release_notebook(nb).cells)


def course_secrets(nbs):
    """What the student edition of these solution notebooks must not contain (solution code, hidden tests,
    the instructors' answers), line by line, as words(). A line that some release shows on purpose (a formula
    one notebook's text derives is another's solution line) is not a secret."""
    shown = f" {' '.join(shown_on_purpose(nb) for nb in nbs)} "
    secrets = {words(line) for nb in nbs for line in secret_lines(nb)}
    return sorted(s for s in secrets if len(s) >= MIN_SECRET_CHARS and f" {s} " not in shown)


def find_leaks(site_dir, secrets, skip=("mathjax",)):
    """-> [(file, secret)] for every secret found in a built file (pages, the search index, ...), except in
    folders named in skip."""
    leaks = []
    for path in sorted(Path(site_dir).rglob("*")):
        if path.is_file() and path.suffix in (".html", ".json", ".js", ".ipynb", ".md", ".txt", ".xml", ".py",
                                              ".toml", ".yml", ".cff") \
                and not set(skip) & set(path.relative_to(site_dir).parts):
            text = f" {words(path.read_text(errors='replace'))} "
            leaks += [(path, line) for line in secrets if f" {line} " in text]
    return leaks


def _front_page(readme, repo):
    """README -> index.md: notebook links point at their pages, other repository links at GitHub."""
    def link(match):
        text, target = match.group(1), match.group(2)
        if re.match(r"^[a-z]+:|^#", target) or text.startswith("!["):      # absolute, anchor, or an image
            return match.group(0)
        if target.startswith("notebooks/") and target.endswith(".ipynb"):
            return f"[{text}]({target.removeprefix('notebooks/')})"
        return f"[{text}](https://github.com/{repo}/blob/main/{target})"
    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", link, readme.replace(COLAB_BADGE_URL, "colab-badge.svg"))


def _config(notebooks, site_dir, edition):
    import yaml
    title = "RNN Lab" + (" (solutions)" if edition == "solutions" else "")
    nav = [{"Home": "index.md"}] + [{_title(p): p.name} for p in notebooks]
    return yaml.safe_dump({
        "site_name": title, "docs_dir": "docs", "site_dir": str(site_dir), "use_directory_urls": False,
        "theme": {"name": "material", "font": False, "features": ["navigation.sections", "toc.integrate"]},
        "nav": nav,
        "plugins": [{"search": {}}, {"mkdocs-jupyter": {"execute": False, "include_source": False,
                                                        "custom_mathjax_url": f"mathjax/MathJax.js?config="
                                                                              f"{MATHJAX_CONFIG}"}}],
        "markdown_extensions": ["tables", "toc"],
    }, sort_keys=False)


def _title(path):
    nb = nbformat.read(path, as_version=4)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), path.stem)
    return first.splitlines()[0].lstrip("# ").strip() or path.stem


def _check_errors(nb, name, edition):
    """A release may stop only where an exercise is unfinished; anything else fails the build."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and not (edition == "student" and
                                                           out.get("ename") == "NotImplementedError"):
                raise SiteError(f"{name}: cell {index} raised {out['ename']}: {out['evalue']}")


def build_site(notebooks, out, edition="student", mode="full", timeout=None, repo=REPO):
    """Execute the edition's notebooks and build the site into ``out`` -> out; its front page is the students'
    README of the course published at github.com/<repo>. Raises SiteError."""
    from labutils.publish import student_readme
    from labutils.runner import execute_notebook
    if edition not in ("student", "solutions"):
        raise ValueError(f"edition must be 'student' or 'solutions', not {edition!r}")
    out = Path(out).resolve()
    src = out.parent / f"{out.name}-src"
    shutil.rmtree(src, ignore_errors=True)
    docs = src / "docs"
    docs.mkdir(parents=True)
    solutions, pages = [], []
    for path in map(Path, notebooks):
        nb = nbformat.read(path, as_version=4)
        solutions.append(nb)
        staged = docs / path.name
        page = release_notebook(nb) if edition == "student" else nb
        for cell in page.cells:
            if cell.cell_type == "markdown":
                cell.source = cell.source.replace(COLAB_BADGE_URL, "colab-badge.svg")
        write_text(staged, nbformat.writes(page))
        print(f"executing {path.stem} ({edition} edition, {mode} mode) ...", flush=True)
        status, error, _, wall, executed = execute_notebook(staged, staged, src / "results" / f"{path.stem}.json",
                                                            mode, timeout, allow_errors=True, cwd=path.parent)
        if status != "ok":      # a timeout or a dead kernel: the page would be half run
            raise SiteError(f"{path.stem} did not run to the end: cell {error['cell']}: {error['error']}")
        _check_errors(executed, path.stem, edition)
        print(f"    done in {wall:.1f} s", flush=True)
        pages.append(staged)
    write_text(docs / "index.md", _front_page(student_readme(repo, notebooks), repo))
    write_text(docs / "colab-badge.svg", COLAB_BADGE_SVG)
    import jupyter_server_mathjax
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", docs / "mathjax")
    staging = out.parent / f".{out.name}-new"         # becomes ``out`` only once it is complete and clean
    shutil.rmtree(staging, ignore_errors=True)
    write_text(src / "mkdocs.yml", _config(pages, staging, edition))
    # run in the source folder: mkdocs-jupyter keeps its conversion cache in ./.cache
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "-f", str(src / "mkdocs.yml")], check=True,
                   cwd=src)
    if edition == "student":
        leaks = find_leaks(staging, course_secrets(solutions))
        if leaks:
            shutil.rmtree(staging)
            listing = "\n".join(f"  {p.relative_to(staging)}: {line[:80]}" for p, line in leaks[:10])
            raise SiteError(f"the student edition would publish {len(leaks)} line(s) of solutions, hidden tests "
                            f"or answers; nothing was written to {out}:\n{listing}")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out
