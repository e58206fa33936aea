"""A test class: 60 submissions of notebooks 01 and 03 built from the mistake catalogue with a known plan
(who made which mistake, some with two, a copied cell, empty and broken files, a student outside the roster),
graded for real in the sandbox. The class report's counts must equal the plan exactly, the gradebook exports
must give the right points to the right identities, and a regrade after three resubmissions grades three."""
import csv
import shutil
import subprocess
from collections import Counter

import nbformat
import pytest

from labutils.config import PROJECT_ROOT
from labutils.grading.grade import grade
from labutils.grading.gradebook import CANVAS_IDENTITY, MOODLE_IDENTITY, RosterError, gradebook, read_roster
from labutils.grading.release import grade_meta, is_check, is_exercise, release_notebook

NOTEBOOKS = PROJECT_ROOT / "notebooks"
NB01, NB03 = "01_bptt_derivation", "03_temperature_sampling"

# mistake: (notebook, exercise cell, text in the solution, its replacement, the check it fails, the mistake id)
MISTAKES = {
    "no_bias": (NB01, "rnn_step_forward", "Whh @ h_prev + bh)", "Whh @ h_prev)", "check_rnn_step_forward",
                "rnn_step.no_bias"),
    "whh_transposed": (NB01, "rnn_step_forward", "Whh @ h_prev + bh)", "Whh.T @ h_prev + bh)",
                       "check_rnn_step_forward", "rnn_step.whh_transposed"),
    "dh_prev_transposed": (NB01, "rnn_step_backward", "dh_prev = Whh.T @ da", "dh_prev = Whh @ da",
                           "check_rnn_step_backward", "rnn_step.backward_whh_not_transposed"),
    "no_dh_next": (NB01, "rnn_backward", "dlogits[t] + dh_next", "dlogits[t]", "check_bptt", "bptt.no_dh_next"),
    "forward_in_time": (NB01, "rnn_backward", "reversed(range(len(caches)))", "range(len(caches))", "check_bptt",
                        "bptt.forward_in_time"),
    "divided_by_n": (NB01, "rnn_backward", "caches, hs, params = cache",
                     "caches, hs, params = cache\n    dlogits = dlogits / dlogits.shape[2]", "check_bptt",
                     "bptt.uniform_scale"),
    "no_max": (NB03, "softmax_with_temperature", "    z = z - z.max(axis=0, keepdims=True)\n", "",
               "check_softmax_with_temperature", "softmax.no_max_shift"),
    "multiplies": (NB03, "softmax_with_temperature", "/ temperature", "* temperature",
                   "check_softmax_with_temperature", "softmax.multiplies_temperature"),
    "no_validation": (NB03, "softmax_with_temperature",
                      '    if not temperature > 0:\n'
                      '        raise ValueError(f"temperature must be > 0, got {temperature}")\n',
                      "", "check_softmax_with_temperature", "softmax.no_validation"),
}
# a correct rnn_step_backward written its own way, which two students hand in (one copied the other)
OWN_BACKWARD = '''def rnn_step_backward(dh, cache):
    inputs, previous, W_in, W_rec, state = cache
    grad_pre = dh * (1.0 - state ** 2)
    grad_inputs = np.einsum("hi,hn->in", W_in, grad_pre)
    grad_previous = np.einsum("hk,hn->kn", W_rec, grad_pre)
    grad_W_in = np.einsum("hn,in->hi", grad_pre, inputs)
    grad_W_rec = np.einsum("hn,kn->hk", grad_pre, previous)
    grad_b = grad_pre.sum(axis=1)[:, None]
    return grad_inputs, grad_previous, grad_W_in, grad_W_rec, grad_b
'''
COPIERS = ("s10", "s13")
POINTS = {NB01: {"check_rnn_step_forward": 1, "check_rnn_step_backward": 2, "check_rnn_forward": 1, "check_bptt": 3},
          NB03: {"check_softmax_with_temperature": 2}}


def plan():
    """{(student, notebook): what they hand in}: a tuple of mistakes, "empty" (the release as given) or
    "broken" (not a notebook). 30 roster students s00-s29 and one outside it, "visitor"; s28 and s29 hand in
    no notebook 03; the roster's "ghost" hands in nothing."""
    nb01 = [(), ("no_bias",), ("whh_transposed",), ("no_dh_next",), ("forward_in_time",),
            ("dh_prev_transposed",), ("no_bias", "no_dh_next"), ("divided_by_n",), "empty", "broken"]
    nb03 = [(), ("no_max",), ("multiplies",), ("no_validation",), ()]
    out = {}
    for i in range(30):
        out[f"s{i:02d}", NB01] = nb01[i % 10]
        if i < 28:
            out[f"s{i:02d}", NB03] = nb03[i % 5]
    out["visitor", NB01] = ()
    out["visitor", NB03] = ("no_max",)
    return out


def submission(student, notebook, what):
    """The notebook text a student with this plan hands in."""
    source = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
    if what == "broken":
        return '{"cells": [ this is not JSON'
    if what == "empty":
        return nbformat.writes(release_notebook(source))
    for cell in source.cells:
        gid = grade_meta(cell).get("grade_id")
        if student in COPIERS and gid == "rnn_step_backward":
            cell.source = OWN_BACKWARD
        for name in what:
            nb, exercise, old, new, _, _ = MISTAKES[name]
            if gid == exercise:
                assert old in cell.source, (name, cell.source)
                cell.source = cell.source.replace(old, new)
    return nbformat.writes(source)


def expected_rows():
    """{(student, notebook, check): (status, mistake)} that the plan implies."""
    out = {}
    for (student, notebook), what in plan().items():
        for check in POINTS[notebook]:
            if what == "broken":
                out[student, notebook, check] = ("invalid notebook", "")
            elif what == "empty":
                out[student, notebook, check] = ("not implemented", "")
            else:
                failed = [MISTAKES[m][5] for m in what if MISTAKES[m][4] == check]
                out[student, notebook, check] = ("failed", failed[0]) if failed else ("passed", "")
    return out


def write_class(folder):
    for (student, notebook), what in plan().items():
        (folder / student).mkdir(parents=True, exist_ok=True)
        (folder / student / f"{notebook}.ipynb").write_text(submission(student, notebook, what), encoding="utf-8")


def roster_file(path):
    rows = [dict(student=f"s{i:02d}", first_name=f"First{i}", last_name=f"Last{i}", email=f"s{i:02d}@uni.example",
                 idnumber=f"ID{i:04d}", canvas_id=str(1000 + i), sis_user_id=f"SIS{i}", sis_login_id=f"login{i}",
                 section="RNN-01") for i in range(30)]
    rows.append(dict(student="ghost", first_name="Gus", last_name="Ghost", email="ghost@uni.example",
                     idnumber="ID9999", canvas_id="1999", sis_user_id="SIS99", sis_login_id="ghost", section="RNN-01"))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    subs, out = tmp / "submissions", tmp / "out"
    write_class(subs)
    source = tmp / "source"
    source.mkdir()
    for nb in (NB01, NB03):
        shutil.copy(NOTEBOOKS / f"{nb}.ipynb", source / f"{nb}.ipynb")
    rows = grade([subs], source, out, jobs=2, timeout=60, secret=b"test-class-secret")
    return dict(rows=rows, out=out, subs=subs, source=source, tmp=tmp)


@pytest.mark.sandbox
def test_the_class_has_sixty_submissions_and_every_verdict_is_the_plans(graded):
    assert len(plan()) == 60
    got = {(r.student, r.notebook, r.exercise): (r.status, r.mistake) for r in graded["rows"]}
    assert got == expected_rows()


@pytest.mark.sandbox
def test_the_report_counts_equal_the_plan(graded):
    expected = expected_rows()
    items = {(r["notebook"], r["exercise"]): r for r in read_csv(graded["out"] / "items.csv")}
    assert set(items) == {(nb, check) for nb in POINTS for check in POINTS[nb]}
    for (nb, check), item in items.items():
        statuses = Counter(s for (_, n, c), (s, _) in expected.items() if (n, c) == (nb, check))
        assert int(item["submitted"]) == sum(statuses.values())
        for status in ("passed", "failed", "not implemented", "error", "timeout", "missing"):
            assert int(item[status.replace(" ", "_")]) == statuses[status], (check, status)
        assert int(item["other"]) == statuses["invalid notebook"]
    mistakes = Counter((n, c, m) for (_, n, c), (s, m) in expected.items() if s == "failed")
    table = Counter()
    for r in read_csv(graded["out"] / "mistakes.csv"):
        table[r["notebook"], r["exercise"], r["mistake"]] += int(r["count"])
    assert table == mistakes
    # ranked by failure rate, highest first
    rates = [float(r["failure_rate"]) for r in read_csv(graded["out"] / "items.csv")]
    assert rates == sorted(rates, reverse=True)


@pytest.mark.sandbox
def test_the_report_page_holds_counts_and_no_code_and_runs_nothing(graded):
    page = (graded["out"] / "report.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "<script" not in page.lower()
    assert "bptt.no_dh_next" in page and "softmax.multiplies_temperature" in page
    assert page.count("data:image/png;base64,") == 3            # two score histograms and the grading times
    code = {line.strip() for (student, nb), what in plan().items() if what not in ("empty", "broken")
            for cell in nbformat.reads(submission(student, nb, what), as_version=4).cells if is_exercise(cell)
            for line in cell.source.splitlines() if len(line.strip()) > 20 and not line.strip().startswith("#")}
    assert code and not [line for line in code if line in page], "student code in the report"
    # the copied cell's two students are one similarity cluster of rnn_step_backward
    assert ", ".join(COPIERS) in page


@pytest.mark.sandbox
@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium (Debian package chromium) is not installed")
def test_the_report_page_opens_in_a_browser(graded, tmp_path):
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom",
                          (graded["out"] / "report.html").as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "<title>Class report</title>" in dom and "Checks, by failure rate" in dom
    assert dom.count("<img") == 3


def total(student, notebook):
    what = plan().get((student, notebook))
    if what is None:
        return None
    return sum(POINTS[notebook][c] for (s, n, c), (status, _) in expected_rows().items()
               if (s, n) == (student, notebook) and status == "passed")


@pytest.mark.sandbox
def test_the_exports_give_the_right_points_to_the_right_identities(graded, tmp_path):
    roster = read_roster(roster_file(tmp_path / "roster.csv"), "canvas")
    rows = graded["rows"]
    text, unrostered = gradebook(rows, roster, "canvas", missing="zero")
    assert unrostered == ["visitor"]
    lines = list(csv.reader(text.splitlines()))
    assert tuple(lines[0][:5]) == CANVAS_IDENTITY and lines[0][5:] == [NB01, NB03]
    assert lines[1] == ["    Points Possible", "", "", "", "", "7", "2"]
    by_id = {line[1]: line for line in lines[2:]}
    for i in range(30):
        line = by_id[str(1000 + i)]
        assert line[0] == f"Last{i}, First{i}" and line[2:5] == [f"SIS{i}", f"login{i}", "RNN-01"]
        assert line[5:] == [f"{total(f's{i:02d}', nb) or 0:g}" for nb in (NB01, NB03)], line
    assert by_id["1999"][5:] == ["0", "0"]                        # the ghost: --missing zero

    text, _ = gradebook(rows, read_roster(tmp_path / "roster.csv", "moodle"), "moodle", missing="empty")
    lines = list(csv.reader(text.splitlines()))
    assert tuple(lines[0][:4]) == MOODLE_IDENTITY
    by_email = {line[3]: line for line in lines[1:]}
    assert by_email["s28@uni.example"][4:] == [f"{total('s28', NB01):g}", ""]      # no notebook 03: empty
    assert by_email["ghost@uni.example"][4:] == ["", ""]

    text, _ = gradebook(rows, roster, "wide")
    wide = {r["student"]: r for r in csv.DictReader(text.splitlines())}
    assert wide["s07"]["total"] == f"{total('s07', NB01) + total('s07', NB03):g}" and wide["s07"]["max"] == "9"
    assert wide["ghost"]["total"] == ""


def test_a_roster_that_cannot_map_says_which_rows(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("student,email\ns01,s01@uni.example\ns02,\ns01,again@uni.example\n")
    with pytest.raises(RosterError, match=r"students listed twice: \['s01'\].*idnumber, and these rows have none: "
                                          r"\['s02'\]"):
        read_roster(path, "moodle")
    path.write_text("name,email\nAda,a@b.c\n")
    with pytest.raises(RosterError, match="no 'student' column"):
        read_roster(path)


@pytest.mark.sandbox
def test_a_regrade_after_three_resubmissions_grades_three(graded, capsys):
    subs = graded["subs"]
    for student in ("s01", "s02", "s03"):                        # they fixed their mistakes
        (subs / student / f"{NB01}.ipynb").write_text(submission(student, NB01, ()), encoding="utf-8")
    capsys.readouterr()
    rows = grade([subs], graded["source"], graded["out"], jobs=2, timeout=60, secret=b"test-class-secret")
    printed = capsys.readouterr().out
    assert "graded 3 submissions" in printed and "reused 57 unchanged ones" in printed, printed
    got = {(r.student, r.notebook, r.exercise): (r.status, r.points) for r in rows}
    before = {(r.student, r.notebook, r.exercise): (r.status, r.points) for r in graded["rows"]}
    changed = {k for k in got if got[k] != before[k]}
    assert {k[0] for k in changed} == {"s01", "s02", "s03"}
    assert all(got[s, NB01, c][0] == "passed" for s in ("s01", "s02", "s03") for c in POINTS[NB01])
    page = (graded["out"] / "report.html").read_text(encoding="utf-8")
    assert "57 reused unchanged from the journal, 3 graded now" in page


def test_release_of_the_class_notebooks_has_exercises_and_checks():
    # the plan's cells exist in the course's notebooks (a renamed exercise would silently empty the plan)
    for nb, exercise, old, *_ in MISTAKES.values():
        cells = nbformat.read(NOTEBOOKS / f"{nb}.ipynb", as_version=4).cells
        assert any(is_exercise(c) and grade_meta(c)["grade_id"] == exercise and old in c.source for c in cells)
        assert sum(is_check(c) for c in cells) == len(POINTS[nb])


def test_the_command_line_checks_roster_and_export_before_grading(tmp_path, capsys):
    import labutils.__main__ as cli
    subs = tmp_path / "subs"
    (subs / "s00").mkdir(parents=True)
    assert cli.main(["grade", str(subs), "--out", str(tmp_path / "out"), "--export", "canvas"]) == 2
    assert "--roster and --export go together" in capsys.readouterr().err
    roster = tmp_path / "roster.csv"
    roster.write_text("student,email\ns00,s00@uni.example\n")           # no Canvas identity
    assert cli.main(["grade", str(subs), "--out", str(tmp_path / "out"), "--roster", str(roster),
                     "--export", "canvas"]) == 2
    err = capsys.readouterr().err
    assert "canvas matches students by canvas_id or sis_user_id or sis_login_id" in err and "['s00']" in err
    assert not (tmp_path / "out").exists(), "a bad roster costs no grading"
