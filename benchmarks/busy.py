"""A busy machine on demand: CPU-burning processes that the benchmarks start and stop themselves."""
import subprocess
import sys
import time
from contextlib import contextmanager


@contextmanager
def cpu_burners(n):
    """n processes spinning on the CPU for as long as the block runs (as a browser or a shared Colab VM does)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(1.0 if n else 0.0)        # let the scheduler see them before any clock starts
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()
