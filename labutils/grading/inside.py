"""What runs inside the sandbox: execute ``<job>/notebook.ipynb`` in the working directory (without a Jupyter
kernel: ``labutils.grading.interpreter``), then send back ``out/`` (the executed notebook and the probes'
outputs) as one zip archive on standard output.

The cells and whatever they start get /dev/null as stdout and stderr, so only this runner writes the
archive; the grader still treats every byte of it as untrusted data, read up to a cap.
"""
import io
import json
import os
import stat
import sys
import zipfile
from pathlib import Path

from labutils.grading.interpreter import run_notebook

MAX_FILE_BYTES = 48 * 2**20


def archive(folder):
    """Zip of the regular files directly in folder (no links, none too large) -> bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return buf.getvalue()
        try:
            for name in sorted(os.listdir(fd)):
                try:
                    f = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
                except OSError:
                    continue
                with os.fdopen(f, "rb") as handle:
                    info = os.fstat(handle.fileno())
                    if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_FILE_BYTES:
                        z.writestr(name, handle.read(MAX_FILE_BYTES))
        finally:
            os.close(fd)
    return buf.getvalue()


def main(argv):
    job, timeout = Path(argv[0]), int(argv[1])
    result = os.dup(1)                         # the grader's pipe: kept from the kernel and its children
    os.set_inheritable(result, False)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    out = Path("out")
    out.mkdir(exist_ok=True)
    nb = json.loads((job / "notebook.ipynb").read_text(encoding="utf-8"))
    executed = run_notebook(nb, timeout)
    try:                                       # replaces whatever the submission wrote under that name
        (out / "executed.tmp").write_text(json.dumps(executed), encoding="utf-8")
        os.replace(out / "executed.tmp", out / "executed.ipynb")
    except OSError:
        pass                                   # the student's code may have removed out/: send what is there
    with os.fdopen(result, "wb") as pipe:
        pipe.write(archive(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
