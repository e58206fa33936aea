"""The class report: what the class got wrong, per notebook and check, for the instructor.

``write_report(rows, pairs, seconds, reused, out_dir)`` writes, beside grades.csv:

* ``items.csv``: one row per notebook and check: submitted, passed, failed, not implemented, error, timeout,
  missing, other, the failure rate (everything but passed), and the most common mistake;
* ``mistakes.csv``: one row per notebook, check and mistake id (``unclassified`` failures grouped by their
  normalised message), with its count and an example message;
* ``report.html``: those tables ranked by failure rate, each notebook's score histogram and the grading
  times (matplotlib PNGs, embedded), the flags and the similarity clusters, and which submissions were
  reused from the journal. It holds counts, ids, the grader's messages and student ids, never student code
  or output, and carries the feedback pages' script-forbidding Content-Security-Policy.
"""
import base64
import csv
import html
import io
from collections import Counter, defaultdict

from labutils.atomic import write_text
from labutils.checks.mistakes import UNCLASSIFIED, normalised
from labutils.grading.feedback import CSP

STATUSES = ("passed", "failed", "not implemented", "error", "timeout", "missing")
ITEM_FIELDS = ("notebook", "exercise", "failure_rate", "submitted", *[s.replace(" ", "_") for s in STATUSES],
               "other", "top_mistake", "top_mistake_count")
MISTAKE_FIELDS = ("notebook", "exercise", "mistake", "count", "message")


def item_table(rows):
    """[{notebook, exercise, submitted, passed, failed, ..., failure_rate, top_mistake}], ranked by failure rate
    (highest first). Rows of a whole submission (exercise "-": unreadable, grader limit) count per notebook
    in the report's header, not here."""
    counts, mistakes = defaultdict(Counter), defaultdict(Counter)
    for r in rows:
        if r.exercise == "-":
            continue
        key = (r.notebook, r.exercise)
        counts[key][r.status if r.status in STATUSES else "other"] += 1
        if r.status == "failed":
            mistakes[key][r.mistake or UNCLASSIFIED] += 1
    table = []
    for (notebook, exercise), c in counts.items():
        submitted = sum(c.values())
        top = mistakes[notebook, exercise].most_common(1)
        table.append({"notebook": notebook, "exercise": exercise, "submitted": submitted,
                      **{s.replace(" ", "_"): c[s] for s in STATUSES}, "other": c["other"],
                      "failure_rate": round(1 - c["passed"] / submitted, 4),
                      "top_mistake": top[0][0] if top else "", "top_mistake_count": top[0][1] if top else 0})
    return sorted(table, key=lambda t: (-t["failure_rate"], t["notebook"], t["exercise"]))


def mistake_table(rows):
    """[{notebook, exercise, mistake, count, message}] of the failed checks, most common first: a named mistake
    is one row (its most common normalised message as the example), unclassified ones one row per message."""
    groups = defaultdict(Counter)
    for r in rows:
        if r.status != "failed":
            continue
        mistake = r.mistake or UNCLASSIFIED
        message = normalised(r.reason.removeprefix("AssertionError: "))
        key = (r.notebook, r.exercise, mistake, message if mistake == UNCLASSIFIED else "")
        groups[key][message] += 1
    table = [{"notebook": nb, "exercise": ex, "mistake": m, "count": sum(c.values()),
              "message": c.most_common(1)[0][0]} for (nb, ex, m, _), c in groups.items()]
    return sorted(table, key=lambda t: (-t["count"], t["notebook"], t["exercise"], t["mistake"], t["message"]))


def clusters(pairs):
    """{(notebook, exercise): [sorted students]} of the groups that similarity links (connected components)."""
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for a, b, notebook, exercise, _ in pairs:
        parent[find((notebook, exercise, a))] = find((notebook, exercise, b))
    groups = defaultdict(set)
    for node in list(parent):
        groups[find(node)].add(node)
    out = defaultdict(list)
    for members in groups.values():
        notebook, exercise, _ = next(iter(members))
        out[notebook, exercise].append(sorted(m[2] for m in members))
    return {k: sorted(v) for k, v in sorted(out.items())}


def scores(rows):
    """{notebook: {student: (points, max)}} of every graded submission."""
    out = defaultdict(dict)
    for r in rows:
        got, total = out[r.notebook].get(r.student, (0.0, 0.0))
        out[r.notebook][r.student] = (got + r.points, total + r.max)
    return dict(out)


def safe_cell(value):
    """No spreadsheet formulas from student-controlled text."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_text(fields, dicts):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: safe_cell(v) for k, v in d.items()} for d in dicts)
    return buf.getvalue()


def _png(fig):
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _histograms(score_table, seconds):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figures = {}
    for notebook, by_student in sorted(score_table.items()):
        total = max((t for _, t in by_student.values()), default=0)
        fig, ax = plt.subplots(figsize=(4, 2.4))
        ax.hist([p for p, _ in by_student.values()], bins=[x - 0.5 for x in range(int(total) + 2)],
                color="#4c72b0", edgecolor="white")
        ax.set(title=notebook, xlabel=f"points (of {total:g})", ylabel="submissions")
        figures[notebook] = _png(fig)
    if seconds:
        fig, ax = plt.subplots(figsize=(4, 2.4))
        ax.hist(list(seconds.values()), bins=20, color="#55a868", edgecolor="white")
        ax.set(title="grading time per submission", xlabel="seconds", ylabel="submissions")
        figures["seconds"] = _png(fig)
    return figures


def _table(fields, dicts):
    head = "".join(f"<th>{html.escape(f)}</th>" for f in fields)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(d[f]))}</td>" for f in fields) + "</tr>" for d in dicts)
    return f"<table><tr>{head}</tr>{body}</table>"


def report_html(rows, pairs, seconds, reused):
    """The report page (a string): see the module's docstring."""
    items, mistakes, score_table = item_table(rows), mistake_table(rows), scores(rows)
    figures = _histograms(score_table, seconds)
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{CSP}<title>Class report</title>",
             "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.2em .5em;"
             "text-align:left;vertical-align:top}th{background:#eee}img{margin:.5em}</style></head><body>",
             "<h1>Class report</h1>"]
    whole = Counter(r.status for r in rows if r.exercise == "-")
    n_subs = len({(r.student, r.notebook) for r in rows})
    parts.append(f"<p>{n_subs} submissions, {len(score_table)} notebooks; {len(reused)} reused unchanged from the "
                 f"journal, {n_subs - len(reused)} graded now"
                 + "".join(f"; {c} {e(s)}" for s, c in sorted(whole.items())) + ".</p>")
    parts.append("<h2>Checks, by failure rate</h2>" + _table(ITEM_FIELDS, items))
    named = [m for m in mistakes if m["mistake"] != UNCLASSIFIED]
    unnamed = [m for m in mistakes if m["mistake"] == UNCLASSIFIED]
    parts.append("<h2>Mistakes the checks named</h2><p>Each id is defined once in labutils, beside its message; "
                 "the message is this class's most common wording of it (numbers as #).</p>"
                 + _table(MISTAKE_FIELDS, named))
    parts.append("<h2>Unclassified failures</h2><p>Failed checks that no known mistake matched, grouped by their "
                 "message (numbers as #): candidates for a new diagnosis in the check and the mistake "
                 "catalogue.</p>" + _table(MISTAKE_FIELDS, unnamed[:50]))
    parts.append("<h2>Scores</h2>" + "".join(figures[nb] for nb in sorted(score_table)))
    flags = Counter((r.notebook, r.exercise, f.split(" (")[0].split(":")[0]) for r in rows
                    for f in filter(None, (r.flag or "").split("; ")) if not f.startswith("similar to"))
    parts.append("<h2>Flags</h2>" + _table(("notebook", "exercise", "flag", "count"),
                                           [{"notebook": nb, "exercise": ex, "flag": f, "count": c}
                                            for (nb, ex, f), c in sorted(flags.items())]))
    groups = clusters(pairs)
    parts.append("<h2>Similarity clusters</h2>" + _table(
        ("notebook", "exercise", "students"),
        [{"notebook": nb, "exercise": ex or "", "students": ", ".join(g)} for (nb, ex), gs in groups.items()
         for g in gs]))
    if seconds:
        times = sorted(seconds.values())
        parts.append(f"<h2>Grading time</h2><p>{len(times)} submissions graded now: median "
                     f"{times[len(times) // 2]:.1f} s, slowest {times[-1]:.1f} s.</p>" + figures["seconds"])
    if reused:
        parts.append("<h2>Reused</h2><p>Unchanged since the last grade (the journal's verdicts; <code>--fresh</code> "
                     "grades them again): " + e(", ".join(f"{s}/{nb}" for s, nb in sorted(reused))) + "</p>")
    return "".join(parts) + "</body></html>"


def write_report(rows, pairs, seconds, reused, out_dir):
    """items.csv, mistakes.csv and report.html under out_dir. seconds: {(student, notebook): grading time} of
    the submissions graded now; reused: {(student, notebook)} taken from the journal."""
    write_text(out_dir / "items.csv", csv_text(ITEM_FIELDS, item_table(rows)))
    write_text(out_dir / "mistakes.csv", csv_text(MISTAKE_FIELDS, mistake_table(rows)))
    write_text(out_dir / "report.html", report_html(rows, pairs, seconds, reused))
