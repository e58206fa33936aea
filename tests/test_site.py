"""make site: the student edition of a notebook, built offline, holds none of the course's secrets, loads
nothing from the network, and its math renders (headless Chromium, where installed)."""
import json
import os
import re
import shutil
import subprocess

import nbformat
import pytest

from labutils.config import PROJECT_ROOT

pytest.importorskip("mkdocs_jupyter")
from labutils import leaks, site  # noqa: E402 - after the skip: the module needs the site extra

NB01 = PROJECT_ROOT / "notebooks" / "01_bptt_derivation.ipynb"


@pytest.fixture(scope="module")
def student_site(tmp_path_factory):
    return site.build_site([NB01], tmp_path_factory.mktemp("site") / "site", "student", "quick")


def test_the_student_edition_has_the_pages_and_no_secret(student_site):
    page = (student_site / "01_bptt_derivation.html").read_text()
    assert (student_site / "index.html").exists() and "01_bptt_derivation.html" in \
        (student_site / "index.html").read_text(), "the front page links to the notebook's page"
    assert "data:image/png;base64" in page, "the executed notebook's figures are on the page"
    assert "is not implemented yet" in page, "a check shows the student what an unfinished exercise gives"
    secrets = leaks.course_secrets([nbformat.read(NB01, as_version=4)])
    assert len(secrets) > 20, "notebook 01 has solution lines, hidden tests and answers to look for"
    assert leaks.find_leaks(student_site, secrets) == []


def test_the_leak_search_finds_solutions_in_highlighted_html(tmp_path):
    """The solutions edition holds every solution line (split into highlighting spans): the search sees them."""
    built = site.build_site([NB01], tmp_path / "solutions", "solutions", "quick")
    secrets = leaks.course_secrets([nbformat.read(NB01, as_version=4)])
    found = {line for _, line in leaks.find_leaks(built, secrets)}
    assert len(found) > 0.9 * len(secrets), sorted(set(secrets) - found)[:5]


def test_a_leaking_student_edition_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(site, "release_notebook", lambda nb: nb)        # a release that forgot to strip
    with pytest.raises(site.SiteError, match="would publish"):
        site.build_site([NB01], tmp_path / "site", "student", "quick")
    assert not (tmp_path / "site").exists()


def test_pages_load_nothing_from_the_network(student_site):
    for path in student_site.rglob("*.html"):
        text = path.read_text()
        remote = re.findall(r'<(?:script|img|link|iframe)\b[^>]*(?:src|href)="(https?:)?//[^"]*"', text)
        assert not remote, f"{path.name} loads {remote[:3]}"


def test_math_renders_offline_in_a_browser(student_site, tmp_path):
    if not shutil.which("chromium"):
        pytest.skip("Chromium (Debian package chromium) is not installed")
    page = (student_site / "01_bptt_derivation.html").as_uri()
    browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--allow-file-access-from-files", f"--user-data-dir={tmp_path / 'profile'}",
               "--virtual-time-budget=60000", "--window-size=1280,2000"]
    dom = subprocess.run(browser + ["--dump-dom", page], capture_output=True, text=True, timeout=300).stdout
    rendered = dom.count('class="MathJax"') + dom.count('class="MathJax_Display"')
    assert rendered > 50, f"MathJax typeset only {rendered} formulas offline"
    assert 'class="MathJax_Error"' not in dom and "&lt;merror" not in dom
    shot = tmp_path / "01.png"
    subprocess.run(browser + [f"--screenshot={shot}", page], capture_output=True, timeout=300)
    assert shot.exists() and shot.stat().st_size > 50_000, "the screenshot of the page is empty"


def test_the_front_page_is_for_students(student_site):
    index = (student_site / "index.html").read_text()
    assert "How the exercises work" in index and "Run the cells" in index
    assert "make test" not in index and "bubblewrap" not in index, "the developers' README is not the front page"


def test_a_notebook_that_does_not_run_to_the_end_stops_the_build(tmp_path):
    """A cell that hits the time limit leaves the cells after it empty: the build fails and names the cell."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 99 · Slow"),
                                         nbformat.v4.new_code_cell("import time\ntime.sleep(120)"),
                                         nbformat.v4.new_code_cell("print('after')")])
    path = tmp_path / "99_slow.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(site.SiteError, match="99_slow did not run to the end: cell 1"):
        site.build_site([path], tmp_path / "site", "solutions", "quick", timeout=15)
    assert not (tmp_path / "site").exists()


BROWSER_TOOLS = ("axe-core@4.14.1", "puppeteer-core@24.43.1")   # npm packages; Chromium is Debian's
HERE = PROJECT_ROOT / "tests" / "browser"


def browser_script(script, *args):
    """Run tests/browser/<script> with Node (axe-core, puppeteer-core), one JSON line per result."""
    if not shutil.which("chromium") or not shutil.which("node"):
        pytest.skip("Chromium (Debian package chromium) or Node.js is not installed")
    modules = site.node_modules(*BROWSER_TOOLS)
    if modules is None:
        pytest.skip("npm could not install axe-core and puppeteer-core")
    out = subprocess.run(["node", str(HERE / script), shutil.which("chromium"), *args], capture_output=True,
                         text=True, timeout=600, env={**os.environ, "NODE_PATH": str(modules)})
    assert out.returncode == 0, out.stderr[-3000:]
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_axe_finds_no_serious_or_critical_violation(student_site):
    pages = [student_site / "index.html", student_site / "01_bptt_derivation.html"]
    results = browser_script("axe.mjs", *(p.as_uri() for p in pages))
    assert len(results) == len(pages)
    for result in results:
        bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{result['url']}: {bad}"


def test_search_works_from_disk(student_site):
    if not (student_site / "iframe-worker.js").exists():
        pytest.skip("npm could not install iframe-worker, so the site searches only when served over HTTP")
    [result] = browser_script("search.mjs", (student_site / "index.html").as_uri(), "gradient")
    assert "matching" in result["status"] and any("Backpropagation" in r for r in result["results"]), result


def test_every_figure_has_alt_text_and_no_page_shows_the_builders_paths(student_site):
    page = (student_site / "01_bptt_derivation.html").read_text()
    assert "No description has been provided" not in page
    alts = re.findall(r'<img alt="(Figure: [^"]+)"', page)
    assert len(alts) == 3 and "clipping" in alts[2], alts
    for path in student_site.rglob("*.html"):
        text = path.read_text()
        assert str(PROJECT_ROOT) not in text and "/tmp/" not in text, f"{path.name} shows a build path"
    assert "labutils/checks/" not in page and "Traceback" not in page, "a check's failure is its message"
    assert "NotImplementedError: " in page


def test_each_page_offers_its_notebook_for_download(student_site):
    page = (student_site / "01_bptt_derivation.html").read_text()
    assert 'href="downloads/01_bptt_derivation.ipynb"' in page
    nb = nbformat.read(student_site / "downloads" / "01_bptt_derivation.ipynb", as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "a clean notebook to run"
    assert any("YOUR CODE HERE" in c.source for c in nb.cells) and \
        not any("BEGIN SOLUTION" in c.source for c in nb.cells), "the student's release, exercises open"
