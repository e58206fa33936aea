"""The labutils command line: ``python -m labutils run | ...`` (it only parses and calls)."""
import argparse
import sys
from pathlib import Path

from labutils.config import build_dir, lesson_notebooks, notebooks_dir


def main(argv=None):
    parser = argparse.ArgumentParser(prog="labutils", description="RNN Lab tools")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute notebooks headless into build/ with HTML, summary.md, results.json")
    run.add_argument("notebooks", nargs="*", help="default: every notebooks/NN_*.ipynb, in order")
    run.add_argument("--mode", choices=("full", "quick"), default="full")
    run.add_argument("--out", help="default: build/ (of the checkout, else of the working directory)")
    run.add_argument("--timeout", type=int, default=None,
                     help="seconds a cell may run (default: no limit; training is bounded by steps, not seconds)")

    rel = sub.add_parser("release", help="write student versions (solutions and hidden tests removed)")
    rel.add_argument("notebooks", nargs="*")
    rel.add_argument("--out", help="default: build/student")

    grd = sub.add_parser("grade", help="grade submissions: files, or folders of student_id/NN_name.ipynb")
    grd.add_argument("submissions", nargs="+")
    grd.add_argument("--source", help="the solution notebooks (default: the course's notebooks/)")
    grd.add_argument("--out", help="default: build/grading")
    grd.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    grd.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    grd.add_argument("--mode", choices=("full", "quick"), default="quick")
    grd.add_argument("--memory", type=float, default=6,
                     help="GiB that all of one submission's processes may use together (default 6); "
                          "--jobs sandboxes may each use that much at once")
    grd.add_argument("--roster", help="a CSV mapping submission folders to LMS identities (see --export)")
    grd.add_argument("--export", choices=("canvas", "moodle", "wide"),
                     help="also write OUT/gradebook-<export>.csv for that gradebook, through --roster")
    grd.add_argument("--missing", choices=("empty", "zero"), default="empty",
                     help="what the export gives a roster student without a submission (default: empty)")
    grd.add_argument("--scheduler", help="a Dask scheduler address (tcp://host:8786): grade on that cluster")
    grd.add_argument("--fresh", action="store_true",
                     help="grade every submission again (default: reuse the journaled verdicts of unchanged ones)")
    grd.add_argument("--no-sandbox", action="store_true",
                     help="run submissions WITHOUT the bubblewrap sandbox, as your user (trusted code only); "
                          "the report and grades.csv say so")

    site = sub.add_parser("site", help="build the course website (static, offline math) from executed notebooks")
    site.add_argument("notebooks", nargs="*", help="default: every notebooks/NN_*.ipynb, in order")
    site.add_argument("--edition", choices=("student", "solutions"), default="student",
                      help="student (default): the releases, safe to publish; solutions: for self-study")
    site.add_argument("--mode", choices=("full", "quick"), default="full")
    site.add_argument("--out", help="default: build/site (student) or build/site-solutions")
    site.add_argument("--timeout", type=int, default=None,
                     help="seconds a cell may run (default: no limit; training is bounded by steps, not seconds)")

    pub = sub.add_parser("publish", help="write the student repository to publish (releases, labutils, README)")
    pub.add_argument("--repo", required=True, help="OWNER/NAME of the public student repository on GitHub")
    pub.add_argument("--out", help="default: build/publish")
    pub.add_argument("--site", help="a built student site to include as site/ (make site; default: none)")

    bdg = sub.add_parser("badges", help="point every notebook's Colab badge and setup cell at a repository")
    bdg.add_argument("--repo", help="OWNER/NAME on GitHub (default: the current setting, labutils/config.py REPO)")

    new = sub.add_parser("new-lesson", help="write a new lesson's skeleton: its notebook, lesson module and "
                                            "reference module (CONTRIBUTING.md's recipe)")
    new.add_argument("name", help="NN_name, e.g. 10_parallel_scan")
    new.add_argument("title", help="the notebook's title, e.g. 'minGRU and the parallel scan'")

    args = parser.parse_args(argv)
    if args.command == "new-lesson":
        from labutils.newlesson import new_lesson
        try:
            paths = new_lesson(args.name, args.title)
        except (ValueError, FileExistsError) as err:
            print(f"new-lesson: {err}", file=sys.stderr)
            return 2
        for path in paths:
            print(f"wrote {path}")
        print("next: CONTRIBUTING.md's checklist (the exercise, its mistakes in tests/test_mistakes.py, the README "
              "row, make test)")
        return 0
    if args.command == "badges":
        from labutils.badges import rewrite
        try:
            changed = rewrite(args.repo)
        except ValueError as err:
            print(f"badges: {err}", file=sys.stderr)
            return 2
        for path in changed:
            print(f"rewrote {path}")
        print(f"{len(changed)} file(s) changed")
        return 0
    if args.command == "publish":
        from labutils.publish import PublishError, publish
        try:
            out = publish(args.repo, args.out or build_dir() / "publish", lesson_notebooks([]), site=args.site)
        except (PublishError, ValueError) as err:
            print(f"publish: {err}", file=sys.stderr)
            return 1
        print(f"wrote {out}: push it to github.com/{args.repo} (git init, add, commit, push)")
        return 0
    if args.command == "site":
        from labutils.site import SiteError, build_site
        out = args.out or build_dir() / ("site" if args.edition == "student" else "site-solutions")
        try:
            built = build_site(lesson_notebooks(args.notebooks), out, args.edition, args.mode, args.timeout)
        except SiteError as err:
            print(f"site: {err}", file=sys.stderr)
            return 1
        print(f"wrote {built}/index.html ({args.edition} edition, {args.mode} mode)")
        return 0
    if args.command == "release":
        from labutils.grading.release import release
        for path in release(lesson_notebooks(args.notebooks), args.out or build_dir() / "student"):
            print(f"wrote {path}")
        return 0
    if args.command == "grade":
        from labutils.grading.grade import grade
        from labutils.grading.gradebook import RosterError, read_roster, write_gradebook
        from labutils.grading.report import scores
        from labutils.grading.sandbox import SandboxUnavailable
        if bool(args.roster) != bool(args.export):
            print("grade: --roster and --export go together (the roster says who each submission folder is "
                  "in the gradebook that --export names)", file=sys.stderr)
            return 2
        try:
            if args.roster:
                read_roster(args.roster, args.export)           # before grading: a bad roster costs no time
        except RosterError as err:
            print(f"grade: {err}", file=sys.stderr)
            return 2
        out_dir = Path(args.out) if args.out else build_dir() / "grading"
        try:
            rows = grade(args.submissions, args.source or notebooks_dir(), out_dir,
                         args.jobs, args.timeout, args.mode, sandbox=not args.no_sandbox, scheduler=args.scheduler,
                         fresh=args.fresh, memory=int(args.memory * 2**30))
        except SandboxUnavailable as err:
            print(f"grade: refusing to run student code without a sandbox: {err}", file=sys.stderr)
            return 2
        if args.no_sandbox:
            print("WARNING: graded WITHOUT a sandbox (--no-sandbox): student code ran as your user")
        by_student = {(student, notebook): score for notebook, students in scores(rows).items()
                      for student, score in students.items()}
        for (student, notebook), (got, total) in sorted(by_student.items()):
            print(f"{student:20s} {notebook:30s} {got:g} / {total:g}")
        print(f"class report: {out_dir / 'report.html'} (items.csv, mistakes.csv)")
        if args.export:
            path, unrostered = write_gradebook(rows, args.roster, args.export, out_dir, args.missing)
            print(f"gradebook for {args.export}: {path}; roster students without a submission get "
                  f"{'0' if args.missing == 'zero' else 'an empty cell'} (--missing)")
            if unrostered:
                print(f"NOT IN THE ROSTER (kept in {out_dir / 'not_in_roster.csv'}, not in the gradebook): "
                      + ", ".join(unrostered))
        return 0
    if args.command == "run":
        from labutils.runner import BuildFolderBusy, run_notebooks
        out = Path(args.out) if args.out else build_dir()
        try:
            report = run_notebooks(lesson_notebooks(args.notebooks), out, args.mode, args.timeout)
        except BuildFolderBusy as err:
            print(f"run: {err}", file=sys.stderr)
            return 2
        print(f"\nsummary: {out / 'summary.md'}")
        return 0 if all(r["status"] == "ok" for r in report.values()) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
