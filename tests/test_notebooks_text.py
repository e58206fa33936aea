"""The notebooks as text: committed clean, math that a renderer can read, no control characters."""
import re

import nbformat
import pytest

from labutils.config import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells {dirty} have outputs: clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_markdown_math_is_well_formed(path):
    """No control characters (a lost backslash: '\\a' in '\\approx' became BEL), balanced $ delimiters, and
    every display and inline formula passes through nbconvert's markdown renderer with its math intact."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        assert not CONTROL.search(cell.source), f"cell {i} has a control character: {CONTROL.search(cell.source)!r}"
        if cell.cell_type != "markdown":
            continue
        text = re.sub(r"`[^`]*`", "", cell.source)                       # code spans hold no math
        formulas = re.findall(r"\$\$.+?\$\$|\$[^$\n]+\$", text, flags=re.S)
        assert text.replace("\\$", "").count("$") % 2 == 0, f"cell {i}: unbalanced $ delimiters"
        rendered = markdown2html_mistune(cell.source)
        for formula in formulas:
            assert formula.strip("$").strip() in rendered.replace("&amp;", "&").replace("&lt;", "<").replace(
                "&gt;", ">"), f"cell {i}: the renderer changed the formula {formula[:60]!r}"


def test_every_formula_renders_in_mathjax(tmp_path):
    """Every markdown cell of the ten notebooks through nbconvert's HTML and MathJax's TeX input (MathJax 2.7,
    bundled offline by jupyter-server-mathjax), in headless Chromium: no undefined control sequence, no TeX error.
    A deliberately broken formula proves that the detector sees errors."""
    import os
    import shutil
    import subprocess

    if not shutil.which("chromium"):
        pytest.skip("Chromium (Debian package chromium) is not installed")
    mathjax = pytest.importorskip("jupyter_server_mathjax")
    from nbconvert import HTMLExporter
    script = os.path.join(os.path.dirname(mathjax.__file__), "static", "MathJax.js")
    nb = nbformat.v4.new_notebook()
    for path in NOTEBOOKS:
        nb.cells += [nbformat.v4.new_markdown_cell(c.source) for c in nbformat.read(path, as_version=4).cells
                     if c.cell_type == "markdown"]
    nb.cells.append(nbformat.v4.new_markdown_cell(r"sentinel: $\undefinedmacro{x}$"))
    body, _ = HTMLExporter(mathjax_url=f"file://{script}?config=TeX-AMS-MML_HTMLorMML-full").from_notebook_node(nb)
    page = tmp_path / "math.html"
    page.write_text(body)
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          "--allow-file-access-from-files", f"--user-data-dir={tmp_path / 'profile'}",
                          "--virtual-time-budget=60000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=300).stdout
    rendered = dom.count('class="MathJax"') + dom.count('class="MathJax_Display"')
    assert rendered > 150, f"MathJax rendered only {rendered} formulas: did it load?"
    undefined = re.findall(r"mtext mathcolor=&quot;red&quot;&gt;(\\\\?[A-Za-z]+)", dom)
    assert undefined == ["\\undefinedmacro"], f"undefined control sequences in the notebooks: {undefined[:-1]}"
    errors = re.findall(r"&lt;merror&gt;&lt;mtext&gt;(.*?)&lt;/mtext&gt;", dom)
    assert not errors, f"TeX errors (unbalanced braces, a misplaced &...) in formulas: {errors}"
    # parsed, but the output stage failed (MathJax 2.7 with its STIX fonts cannot typeset \tanh'(a))
    failed = re.findall(r'class="MathJax_Error"[^>]*data-mathml="(.{0,300})', dom)
    assert not failed, f"{len(failed)} formula(s) show [Math Processing Error]: {failed[:2]}"
