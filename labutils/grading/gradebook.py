"""Grades where instructors keep them: the gradebook files that Canvas and Moodle import, and a wide CSV.

The roster (a CSV with a header) maps each submission folder to the student's identities in the LMS:

    student,first_name,last_name,email,idnumber,canvas_id,sis_user_id,sis_login_id,section

``student`` (the submission folder's name) is required; the rest as the chosen export needs them:

* ``canvas``: Canvas's gradebook CSV, as Canvas exports it and imports it back: the columns ``Student``
  ("last, first"), ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per notebook, and a
  second row ``    Points Possible`` with each notebook's maximum. Canvas matches a row by ID, SIS User ID
  or SIS Login ID: each roster row needs one of canvas_id, sis_user_id, sis_login_id.
* ``moodle``: Moodle's grade import CSV (Grades > Import > CSV file): ``First name``, ``Last name``,
  ``ID number``, ``Email address``, then one column per notebook; choose "Map from: Email address" (or ID
  number) on import. Each roster row needs an email or an idnumber.
* ``wide``: one row per student, one column per notebook, and the total.

Students of the roster without a submission get an empty cell or 0 (``missing``: the instructor's choice,
printed); submissions whose folder is not in the roster are returned (``grade`` lists them and writes them
to ``not_in_roster.csv``), never dropped.
"""
import csv
from pathlib import Path

from labutils.atomic import write_text
from labutils.grading.report import csv_text, safe_cell, scores

ROSTER_FIELDS = ("student", "first_name", "last_name", "email", "idnumber", "canvas_id", "sis_user_id",
                 "sis_login_id", "section")
FORMATS = ("canvas", "moodle", "wide")
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_IDENTITY = ("First name", "Last name", "ID number", "Email address")


class RosterError(ValueError):
    """The roster cannot be used as it is: the message says which rows and what to add."""


def read_roster(path, export=None):
    """[{student, first_name, ...}] from the roster CSV, checked for what ``export`` needs."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError) as err:
        raise RosterError(f"cannot read the roster {path}: {err}") from None
    if "student" not in header:
        raise RosterError(f"the roster {path} has no 'student' column (the submission folder of each student); "
                          f"its columns are {header}. Expected columns: {', '.join(ROSTER_FIELDS)}")
    unknown = sorted(set(header) - set(ROSTER_FIELDS))
    if unknown:
        raise RosterError(f"the roster {path} has columns this export does not know: {unknown}; "
                          f"use {', '.join(ROSTER_FIELDS)}")
    rows = [{f: row.get(f, "") for f in ROSTER_FIELDS} for row in rows]
    seen, duplicates = set(), set()
    for row in rows:
        (duplicates if row["student"] in seen else seen).add(row["student"])
    problems = []
    if duplicates:
        problems.append(f"students listed twice: {sorted(duplicates)}")
    if any(not row["student"] for row in rows):
        problems.append("rows with an empty 'student'")
    need = {"canvas": ("canvas_id", "sis_user_id", "sis_login_id"), "moodle": ("email", "idnumber")}.get(export)
    if need:
        lacking = [row["student"] for row in rows if not any(row[k] for k in need)]
        if lacking:
            problems.append(f"{export} matches students by {' or '.join(need)}, and these rows have none: "
                            f"{lacking[:10]}{' ...' if len(lacking) > 10 else ''}")
    if problems:
        raise RosterError(f"the roster {path}: " + "; ".join(problems))
    return rows


def gradebook(rows, roster, export, missing="empty"):
    """(the export's CSV text, [students with a submission but not in the roster]). rows: grades.csv's rows."""
    if export not in FORMATS:
        raise ValueError(f"export is one of {FORMATS}, not {export!r}")
    if missing not in ("empty", "zero"):
        raise ValueError(f"missing is 'empty' or 'zero', not {missing!r}")
    table = scores(rows)
    notebooks = sorted(table)
    maxima = {nb: max((t for _, t in table[nb].values()), default=0.0) for nb in notebooks}
    rostered = {r["student"] for r in roster}
    unrostered = sorted({s for nb in notebooks for s in table[nb]} - rostered)

    def points(student, notebook):
        if student in table[notebook]:
            return f"{table[notebook][student][0]:g}"
        return "0" if missing == "zero" else ""

    out, writer = _writer()
    if export == "canvas":
        writer.writerow(CANVAS_IDENTITY + tuple(notebooks))
        writer.writerow(("    Points Possible", "", "", "", "") + tuple(f"{maxima[nb]:g}" for nb in notebooks))
        for r in roster:
            name = ", ".join(filter(None, (r["last_name"], r["first_name"]))) or r["student"]
            writer.writerow([safe_cell(v) for v in (name, r["canvas_id"], r["sis_user_id"], r["sis_login_id"],
                                                    r["section"])] + [points(r["student"], nb) for nb in notebooks])
    elif export == "moodle":
        writer.writerow(MOODLE_IDENTITY + tuple(notebooks))
        for r in roster:
            writer.writerow([safe_cell(v) for v in (r["first_name"], r["last_name"], r["idnumber"], r["email"])]
                            + [points(r["student"], nb) for nb in notebooks])
    else:
        writer.writerow(ROSTER_FIELDS + tuple(notebooks) + ("total", "max"))
        for r in roster:
            given = [table[nb][r["student"]][0] for nb in notebooks if r["student"] in table[nb]]
            total = f"{sum(given):g}" if given or missing == "zero" else ""
            writer.writerow([safe_cell(r[f]) for f in ROSTER_FIELDS] + [points(r["student"], nb) for nb in notebooks]
                            + [total, f"{sum(maxima.values()):g}"])
    return out.getvalue(), unrostered


def _writer():
    import io
    out = io.StringIO()
    return out, csv.writer(out, lineterminator="\n")


def write_gradebook(rows, roster_path, export, out_dir, missing="empty"):
    """gradebook-<export>.csv (and not_in_roster.csv when some submissions are not in the roster) under out_dir
    -> (path, unrostered students)."""
    roster = read_roster(roster_path, export)
    text, unrostered = gradebook(rows, roster, export, missing)
    path = Path(out_dir) / f"gradebook-{export}.csv"
    write_text(path, text)
    table = scores(rows)
    leftover = Path(out_dir) / "not_in_roster.csv"
    if unrostered:
        write_text(leftover, csv_text(("student", "notebook", "points", "max"),
                                      [{"student": s, "notebook": nb, "points": f"{table[nb][s][0]:g}",
                                        "max": f"{table[nb][s][1]:g}"}
                                       for s in unrostered for nb in sorted(table) if s in table[nb]]))
    elif leftover.exists():
        leftover.unlink()
    return path, unrostered
