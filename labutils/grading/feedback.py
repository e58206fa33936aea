"""Per-submission feedback: the executed notebook as HTML, headed by a score table and failed checks."""
import copy
import html

import nbformat

from labutils.atomic import write_text


def summary_markdown(rows):
    got, total = sum(r.points for r in rows), sum(r.max for r in rows)
    lines = [f"# Feedback: {rows[0].notebook} ({rows[0].student})" if rows else "# Feedback",
             "", f"**Score: {got:g} / {total:g}**", "", "| check | points | status |", "|---|---|---|"]
    lines += [f"| `{r.exercise}` | {r.points:g} / {r.max:g} | {r.status} |" for r in rows]
    failed = [r for r in rows if r.status != "passed"]
    if failed:
        lines += ["", "## What to look at", ""]
        lines += [f"* **{r.exercise}** ({r.status}): {html.escape(r.reason)}" for r in failed]
    lines += ["", "The notebook as it ran during grading follows (exercise cells are yours; every other cell "
              "is the course's version)."]
    return "\n".join(lines)


def write_feedback(path, executed, rows):
    from nbconvert import HTMLExporter
    nb = copy.deepcopy(executed)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(summary_markdown(rows)))
    body, _ = HTMLExporter().from_notebook_node(nb)
    write_text(path, body)
