"""Make the student version of a solution notebook: solutions out, hidden tests out, outputs cleared."""
import copy
import re
from pathlib import Path

import nbformat

from labutils.atomic import write_text

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def grade_meta(cell):
    """The cell's nbgrader metadata ({} if none, or if it is not a mapping: a string or a list from a
    hand-edited or hostile file costs that cell only)."""
    metadata = cell.get("metadata", {})
    meta = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else {}
    return meta if isinstance(meta, dict) else {}


def is_exercise(cell):
    return cell.cell_type == "code" and bool(grade_meta(cell).get("solution"))


def is_check(cell):
    return cell.cell_type == "code" and bool(grade_meta(cell).get("grade"))


def is_answer(cell):
    """A manually graded answer (nbgrader: a markdown cell with solution and grade): never auto-graded."""
    return cell.cell_type == "markdown" and bool(grade_meta(cell).get("solution"))


def _replace_blocks(source, begin, end, replacement):
    """Replace every begin..end block (marker lines included) by replacement(indent, block lines)."""
    lines, out, block, indent = source.split("\n"), [], None, ""
    for line in lines:
        stripped = line.strip()
        if block is None and stripped == begin:
            block, indent = [], line[: len(line) - len(line.lstrip())]
        elif block is not None and stripped == end:
            out.extend(replacement(indent, block))
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    if block is not None:
        raise ValueError(f"'{begin}' without '{end}'")
    return "\n".join(out)


def strip_solution(source):
    """Solution blocks -> '# YOUR CODE HERE' and 'raise NotImplementedError()', as nbgrader writes them.
    Hints ('# HINT:' lines) stand above the block, so this release and nbgrader's both keep them."""
    def stub(indent, block):
        return [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
    return _replace_blocks(source, BEGIN_SOLUTION, END_SOLUTION, stub)


def strip_hidden_tests(source):
    return _replace_blocks(source, BEGIN_HIDDEN, END_HIDDEN, lambda indent, block: [])


def solution_blocks(nb):
    """The text of every solution block in a notebook (to check that none survives a release)."""
    blocks = []
    for cell in nb.cells:
        _replace_blocks(cell.source, BEGIN_SOLUTION, END_SOLUTION, lambda indent, block: blocks.append(block) or [])
    return ["\n".join(b) for b in blocks]


def secret_lines(nb):
    """Every line a student must not see: solution code, hidden tests and the instructors' answers."""
    lines = []

    def keep(indent, block):
        lines.extend(block)
        return []
    for cell in nb.cells:
        _replace_blocks(cell.source, BEGIN_SOLUTION, END_SOLUTION, keep)
        _replace_blocks(cell.source, BEGIN_HIDDEN, END_HIDDEN, keep)
        if is_answer(cell):
            lines.extend(cell.source.splitlines())
    return lines


def release_notebook(nb):
    """A student copy of a solution notebook (the input is not modified)."""
    student = copy.deepcopy(nb)
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.source = strip_hidden_tests(strip_solution(cell.source))
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        elif is_answer(cell):
            cell.source = "YOUR ANSWER HERE"          # nbgrader's text for a manually graded answer
        elif BEGIN_SOLUTION in cell.source:
            cell.source = _replace_blocks(cell.source, BEGIN_SOLUTION, END_SOLUTION, lambda i, b: ["YOUR ANSWER HERE"])
    return student


def answer_key(nb, title):
    """Markdown for instructors: each "Questions to think about" question with the course's answer."""
    lines, questions = [f"# Answer key: {title}", ""], []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "## Questions to think about" in cell.source:
            text = cell.source.split("## Questions to think about", 1)[1].split("\n## ", 1)[0]
            questions = re.findall(r"^\d+\.\s+(.*(?:\n(?!\d+\.).*)*)", text, flags=re.M)
    answers = [cell.source for cell in nb.cells if is_answer(cell)]
    for k, answer in enumerate(answers):
        if k < len(questions):
            lines += [f"**Question {k + 1}.** {questions[k].strip()}", ""]
        lines += [answer.strip(), ""]
    return "\n".join(lines)


def release(notebooks, out_dir, key_dir=None):
    """Write <out_dir>/NN_name.ipynb for each notebook, and the instructors' answer keys to
    <key_dir>/NN_name.md (default: answer-keys/ beside out_dir, so they never ship with the release)
    -> list of written paths."""
    out_dir = Path(out_dir)
    key_dir = Path(key_dir) if key_dir is not None else out_dir.parent / "answer-keys"
    written = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        target = out_dir / Path(path).name
        write_text(target, nbformat.writes(release_notebook(nb)) + "\n")
        written.append(target)
        if any(is_answer(c) for c in nb.cells):
            key = key_dir / f"{Path(path).stem}.md"
            write_text(key, answer_key(nb, Path(path).stem))
            written.append(key)
    return written
