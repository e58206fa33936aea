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
from labutils.grading.release import release_notebook
from labutils.leaks import course_secrets, find_leaks, replace_if_clean

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
# Colours that pass WCAG AA contrast (4.5:1) on the pages' code and output backgrounds, for what mkdocs-jupyter's
# default styles draw too light: syntax highlighting, prompts, ANSI colours, the footer (axe-core's
# color-contrast rule, tests/test_site.py); !important, because mkdocs-jupyter inlines its own styles after ours.
EXTRA_CSS = """
.highlight-ipynb .c, .highlight-ipynb .c1, .highlight-ipynb .cm, .highlight-ipynb .ch, .highlight-ipynb .cs,
.highlight-ipynb .cp, .highlight-ipynb .cpf { color: #2e5c5c !important; }
.highlight-ipynb .m, .highlight-ipynb .mf, .highlight-ipynb .mi, .highlight-ipynb .mh, .highlight-ipynb .mo,
.highlight-ipynb .il, .highlight-ipynb .mb { color: #005c00 !important; }
.highlight-ipynb .ow, .highlight-ipynb .nd { color: #7a1fb8 !important; }
.highlight-ipynb .s, .highlight-ipynb .s1, .highlight-ipynb .s2, .highlight-ipynb .sa, .highlight-ipynb .sd,
.highlight-ipynb .se, .highlight-ipynb .si, .highlight-ipynb .sb, .highlight-ipynb .sc { color: #a3160f !important; }
.highlight-ipynb .k, .highlight-ipynb .kn, .highlight-ipynb .kc, .highlight-ipynb .kd, .highlight-ipynb .kr,
.highlight-ipynb .nb, .highlight-ipynb .bp { color: #006000 !important; }
.highlight-ipynb .nf, .highlight-ipynb .nc, .highlight-ipynb .nn { color: #0000c0 !important; }
.highlight-ipynb .o, .highlight-ipynb .p { color: #4d4d4d !important; }
.jp-InputPrompt, .jp-OutputPrompt, .jp-InputArea-prompt, .jp-OutputArea-prompt {
  color: #595959 !important; opacity: 1 !important; }
.ansi-green-fg { color: #006b2d !important; } .ansi-cyan-fg { color: #00616b !important; }
.ansi-blue-fg { color: #0050a0 !important; } .ansi-red-fg { color: #b00020 !important; }
.ansi-yellow-fg { color: #6b5200 !important; }
.md-copyright, .md-copyright a { color: #c8c8c8 !important; }
.md-typeset p a, .md-typeset li a { text-decoration: underline; }   /* links told apart without colour */
"""
# Run first in every notebook the site executes (and removed before rendering): each figure the notebook shows
# carries an alt text made from its own titles and axis labels.
ALT_HOOK = """import matplotlib_inline.backend_inline as _inline
from labutils.site import figure_alt as _figure_alt
_fetch = _inline._fetch_figure_metadata
_inline._fetch_figure_metadata = lambda fig: {**(_fetch(fig) or {}), "alt": _figure_alt(fig)}"""
# Material's search runs in a web worker, which a page opened from disk (file://) may not start; Material's
# offline plugin needs this shim (by Material's author, MIT) for that, and would load it from the network.
IFRAME_WORKER = "iframe-worker@1.0.4"


def figure_alt(fig):
    """A description of a matplotlib figure from what the notebook set on it: the figure's title, and each
    panel's title and axis labels (TeX markup stripped) -> str."""
    def plain(text):
        return " ".join(re.sub(r"[$\\{}^_]", "", text).split())
    parts = []
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    for ax in fig.axes:
        if not ax.get_visible() or not (ax.get_title() or ax.get_xlabel() or ax.get_ylabel() or ax.images):
            continue
        what = plain(ax.get_title()) or ("an image" if ax.images else "a plot")
        axes = " against ".join(plain(t) for t in (ax.get_ylabel(), ax.get_xlabel()) if t)
        parts.append(what + (f" ({axes})" if axes else ""))
    if len(parts) > 6:
        parts = parts[:6] + [f"and {len(parts) - 6} more panels"]
    body = "; ".join(parts) or "a figure"
    return f"Figure: {plain(title)}. {body}." if title else f"Figure: {body}."


def tidy_outputs(nb, paths):
    """For readers of the site: each error output becomes its one-line message (no traceback through labutils),
    and no output shows the builder's folders (``paths``)."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out['ename']}: {out['evalue']}"]
            for key in ("text", "evalue"):
                if isinstance(out.get(key), str):
                    for path in paths:
                        out[key] = out[key].replace(str(path), "...")
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/") and isinstance(value, str):
                    for path in paths:
                        value = value.replace(str(path), "...")
                    out["data"][mime] = value


def alt_text_images(nb):
    """Image outputs that carry an alt text (ALT_HOOK) become <img> elements with it (nbconvert would write a
    placeholder). -> the number of images without one."""
    missing = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" not in data:
                continue
            alt = out.get("metadata", {}).get("alt")
            if not alt:
                missing += 1
                continue
            data["text/html"] = (f'<img alt="{html.escape(alt)}" '
                                 f'src="data:image/png;base64,{data.pop("image/png").strip()}">')
            data.pop("text/plain", None)
    return missing


def accessible(page):
    """Built HTML -> the same page with what axe-core asks of it: scrollable code reachable by keyboard, and the
    search dialog named."""
    page = re.sub(r'<div class="highlight-ipynb', '<div tabindex="0" class="highlight-ipynb', page)
    page = page.replace('<div class="md-search" data-md-component="search" role="dialog">',
                        '<div class="md-search" data-md-component="search" role="dialog" aria-label="Search">')
    return page


class SiteError(RuntimeError):
    """The site was not built: a notebook failed, or the student edition would leak course secrets."""


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


def node_modules(*packages):
    """npm packages (``name@version``) installed once into build/node -> its node_modules folder, or None when
    npm is not on this machine or cannot install them."""
    from labutils.config import build_dir
    # one folder per set of packages: npm install prunes what its folder holds beyond the packages it is given
    root = build_dir() / "node" / "-".join(sorted(p.replace("/", "_") for p in packages))
    names = [p.rsplit("@", 1)[0] for p in packages]
    if all((root / "node_modules" / name / "package.json").exists() for name in names):
        return root / "node_modules"
    if not shutil.which("npm"):
        return None
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["npm", "install", "--silent", "--no-save", "--no-audit", "--no-fund", "--prefix",
                           str(root), *packages], capture_output=True, text=True, timeout=600)
    return root / "node_modules" if done.returncode == 0 else None


def _config(notebooks, site_dir, edition, polyfills):
    import yaml
    title = "RNN Lab" + (" (solutions)" if edition == "solutions" else "")
    nav = [{"Home": "index.md"}] + [{_title(p): p.name} for p in notebooks]
    return yaml.safe_dump({
        "site_name": title, "docs_dir": "docs", "site_dir": str(site_dir), "use_directory_urls": False,
        "theme": {"name": "material", "font": False, "features": ["navigation.sections", "toc.integrate"]},
        "nav": nav, "extra_css": ["extra.css"],
        "extra": {"polyfills": polyfills},
        # offline (with the local iframe-worker shim): search works from a site opened from disk (file://);
        # downloads/ holds the notebooks as files to download, not pages
        "plugins": [{"search": {}}] + ([{"offline": {}}] if polyfills else []) + [
            {"mkdocs-jupyter": {"execute": False, "include_source": False, "ignore": ["downloads/*"],
                                "custom_mathjax_url": f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"}}],
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
        write_text(docs / "downloads" / path.name, nbformat.writes(page))       # the notebook a reader runs
        for cell in page.cells:
            if cell.cell_type == "markdown":
                cell.source = cell.source.replace(COLAB_BADGE_URL, "colab-badge.svg")
        page.cells.insert(0, nbformat.v4.new_code_cell(ALT_HOOK))
        write_text(staged, nbformat.writes(page))
        print(f"executing {path.stem} ({edition} edition, {mode} mode) ...", flush=True)
        status, error, _, wall, executed = execute_notebook(staged, staged, src / "results" / f"{path.stem}.json",
                                                            mode, timeout, allow_errors=True, cwd=path.parent)
        if status != "ok":      # a timeout or a dead kernel: the page would be half run
            raise SiteError(f"{path.stem} did not run to the end: cell {error['cell'] - 1}: {error['error']}")
        executed.cells.pop(0)                                                     # the ALT_HOOK cell
        for cell in executed.cells:
            if cell.cell_type == "code" and cell.execution_count:
                cell.execution_count -= 1
        _check_errors(executed, path.stem, edition)
        if alt_text_images(executed):
            raise SiteError(f"{path.stem}: a figure has no alt text (it was not shown through matplotlib)")
        tidy_outputs(executed, [src, path.parent.resolve().parent, Path.home()])
        first = next(c for c in executed.cells if c.cell_type == "markdown")
        first.source += (f"\n\n[Download this notebook](downloads/{path.name}) (the {edition} edition, "
                         "ready to run) or open it on Colab with the badge above.")
        write_text(staged, nbformat.writes(executed))
        print(f"    done in {wall:.1f} s", flush=True)
        pages.append(staged)
    write_text(docs / "index.md", _front_page(student_readme(repo, notebooks), repo))
    write_text(docs / "colab-badge.svg", COLAB_BADGE_SVG)
    write_text(docs / "extra.css", EXTRA_CSS)
    import jupyter_server_mathjax
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", docs / "mathjax")
    staging = out.parent / f".{out.name}-new"         # becomes ``out`` only once it is complete and clean
    shutil.rmtree(staging, ignore_errors=True)
    shim = node_modules(IFRAME_WORKER)
    if shim is not None:
        shutil.copy(shim / "iframe-worker" / "shim" / "index.js", docs / "iframe-worker.js")
    else:
        print("note: npm is not available, so search needs the site served over HTTP (not opened from disk)")
    write_text(src / "mkdocs.yml", _config(pages, staging, edition, ["iframe-worker.js"] if shim else []))
    # run in the source folder: mkdocs-jupyter keeps its conversion cache in ./.cache
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "-f", str(src / "mkdocs.yml")], check=True,
                   cwd=src)
    for built in staging.rglob("*.html"):
        built.write_text(accessible(built.read_text(encoding="utf-8")), encoding="utf-8")
    leaks = find_leaks(staging, course_secrets(solutions)) if edition == "student" else []
    return replace_if_clean(staging, out, leaks, "the student edition", SiteError)
