"""The labutils command line: ``python -m labutils run | ...`` (it only parses and calls)."""
import argparse
import sys
from pathlib import Path

from labutils.config import PROJECT_ROOT


def _notebooks(given):
    if given:
        return [Path(p) for p in given]
    return sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="labutils", description="RNN Lab tools")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute notebooks headless into build/ with HTML, summary.md, results.json")
    run.add_argument("notebooks", nargs="*", help="default: every notebooks/NN_*.ipynb, in order")
    run.add_argument("--mode", choices=("full", "quick"), default="full")
    run.add_argument("--out", default=str(PROJECT_ROOT / "build"))
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell")

    args = parser.parse_args(argv)
    if args.command == "run":
        from labutils.runner import run_notebooks
        report = run_notebooks(_notebooks(args.notebooks), args.out, args.mode, args.timeout)
        print(f"\nsummary: {Path(args.out) / 'summary.md'}")
        return 0 if all(r["status"] == "ok" for r in report.values()) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
