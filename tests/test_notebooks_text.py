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
