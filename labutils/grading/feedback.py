"""Per-submission feedback that is safe to open: a score table, what to look at for each failed check, and the
student's own exercise cells as they ran in the sandbox.

The student controls those cells' outputs, so the page is built to run nothing: only text, PNG/JPEG images
and HTML outputs are kept (JavaScript, SVG, widgets and the rest are dropped), nbconvert sanitises the HTML,
and a Content-Security-Policy forbids scripts outright. It shows no course code: not the solutions, not the
probes, not the grader's inputs.
"""
import base64
import binascii
import copy
import html
import re

import nbformat

from labutils.grading.release import grade_meta, is_check, is_exercise

KEEP = ("text/plain", "image/png", "image/jpeg", "text/html")
CSP = ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
       "style-src 'unsafe-inline'; font-src data:; form-action 'none'; base-uri 'none'\">")


def summary_markdown(rows):
    got, total = sum(r.points for r in rows), sum(r.max for r in rows)
    title = f"Feedback: {rows[0].notebook} ({rows[0].student})" if rows else "Feedback"
    lines = [f"# {html.escape(title)}", "", f"**Score: {got:g} / {total:g}**", "",
             "| check | points | status |", "|---|---|---|"]
    lines += [f"| `{html.escape(r.exercise)}` | {r.points:g} / {r.max:g} | {html.escape(r.status)} |" for r in rows]
    failed = [r for r in rows if r.status != "passed"]
    if failed:
        lines += ["", "## What to look at", ""]
        lines += [f"* **{html.escape(r.exercise)}** ({html.escape(r.status)}): {_inline(r.reason)}" for r in failed]
    lines += ["", "Your exercise cells follow, as they ran during grading."]
    return "\n".join(lines)


# Sizes of one output that the page shows: sanitising a few MB of nested HTML takes the grader minutes.
MAX_TEXT_CHARS = 100_000
MAX_IMAGE_CHARS = 4_000_000


def _inline(text):
    """Student-influenced text for a markdown cell: escaped, and no markdown link or code syntax left."""
    return html.escape(text).replace("[", "&#91;").replace("`", "&#96;").replace("*", "&#42;").replace("_", "&#95;")


def _capped(text, what):
    """text, or its start and a note when it is longer than MAX_TEXT_CHARS (rendering is bounded)."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:MAX_TEXT_CHARS] + f"\n... ({len(text) - MAX_TEXT_CHARS:,} more characters of {what} not shown)"


def _safe_output(out):
    """A copy of an output with only harmless MIME types, each of a bounded size, or None."""
    kind = out.get("output_type")
    if kind == "stream":
        return nbformat.v4.new_output("stream", name=str(out.get("name", "stdout")),
                                      text=_capped(_text(out.get("text", "")), "output"))
    if kind == "error":
        return nbformat.v4.new_output("error", ename=str(out.get("ename", ""))[:200],
                                      evalue=str(out.get("evalue", ""))[:5000],
                                      traceback=[str(t)[:5000] for t in (out.get("traceback") or [])[:50]])
    if kind in ("display_data", "execute_result"):
        data = {}
        for mime in KEEP:
            value = (out.get("data") or {}).get(mime)
            if value is None:
                continue
            value = _text(value)
            if len(value) > (MAX_IMAGE_CHARS if mime.startswith("image/") else MAX_TEXT_CHARS):
                data.setdefault("text/plain", f"(a {mime} output of {len(value):,} characters, too large to show)")
                continue
            if mime.startswith("image/"):
                try:
                    base64.b64decode(value.replace("\n", ""), validate=True)
                except (binascii.Error, ValueError):
                    continue
            data[mime] = value
        return nbformat.v4.new_output("display_data", data=data) if data else None
    return None


def _text(value):
    return "".join(map(str, value)) if isinstance(value, list) else str(value)


def feedback_notebook(rows, assembled, executed):
    """The notebook behind the page: summary, then each exercise cell (code and outputs) and its verdicts."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(summary_markdown(rows)))
    ran = executed.cells if executed is not None and len(executed.cells) == len(assembled.cells) else \
        [None] * len(assembled.cells)
    by_check = {r.exercise: r for r in rows}
    for cell, result in zip(assembled.cells, ran):
        gid = grade_meta(cell).get("grade_id")
        if is_exercise(cell):
            nb.cells.append(nbformat.v4.new_markdown_cell(f"## Exercise `{html.escape(gid)}`"))
            code = nbformat.v4.new_code_cell(cell.source)
            outs = (result or {}).get("outputs") or []
            code.outputs = [o for o in (_safe_output(o) for o in outs if isinstance(o, dict)) if o is not None]
            nb.cells.append(code)
        elif is_check(cell) and gid in by_check:
            r = by_check[gid]
            nb.cells.append(nbformat.v4.new_markdown_cell(
                f"**{html.escape(gid)}**: {html.escape(r.status)}, {r.points:g} / {r.max:g} points"
                + (f". {_inline(r.reason)}" if r.reason else "")))
    return nb


def feedback_html(rows, assembled, executed):
    from nbconvert import HTMLExporter
    exporter = HTMLExporter(sanitize_html=True)
    body, _ = exporter.from_notebook_node(copy.deepcopy(feedback_notebook(rows, assembled, executed)))
    # the template's own scripts (require.js, MathJax from a CDN) would be blocked by the CSP anyway: drop them
    body = re.sub(r"<script\b.*?</script>", "", body, flags=re.S | re.I)
    # a student's links (Markdown or HTML outputs) are shown as text, never followed from our page
    body = re.sub(r"<a\b[^>]*>(.*?)</a>", r"\1", body, flags=re.S | re.I)
    head = body.find("<head>")
    return body[:head + 6] + "\n" + CSP + body[head + 6:] if head >= 0 else CSP + body
