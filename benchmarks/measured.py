"""What the benchmarks that write a committed CSV share: its rows read and rewritten atomically (an interrupted
run resumes), and the commit and machine each row was measured on."""
import csv
import os
import platform
import subprocess
from pathlib import Path

import torch

from labutils.atomic import atomic_path


def read_rows(path):
    """The rows already in the CSV at path (a list of dicts of strings; [] when there is no file)."""
    if not Path(path).exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path, rows):
    """Rewrite the CSV at path with rows (dicts with the same keys), atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def commit():
    """The checkout's short commit (with '+' when it has uncommitted changes), for the CSV's provenance."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent).stdout
    try:
        dirty = "+" if git("status", "--porcelain") else ""
        return (git("rev-parse", "--short", "HEAD").strip() or "unknown") + dirty
    except OSError:
        return "unknown"


def machine():
    """The machine in a few words: architecture and the CPU kernels torch picked (the last digits of a run depend
    on them), cores, torch's threads and version."""
    return (f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}")
