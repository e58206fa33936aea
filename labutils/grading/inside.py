"""What runs inside the sandbox: execute /sandbox/notebook.ipynb and write /sandbox/out/executed.ipynb.

Everything this writes is untrusted data for the grader: the student's code runs in the same sandbox.
"""
import sys
from pathlib import Path

import nbformat

from labutils.grading.execute import execute


def main(argv):
    job, timeout = Path(argv[0]), int(argv[1])
    nb = nbformat.read(job / "notebook.ipynb", as_version=4)
    executed = execute(nb, job, timeout)
    nbformat.write(executed, job / "out" / "executed.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
