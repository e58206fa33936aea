"""Grading throughput: submissions per minute through the sandboxed grader, per notebook and overall.

For every notebook with graded checks it makes solutions, untouched releases and broken submissions (an
exercise cell that raises, one that loops until the cell timeout, one that is not a notebook), then grades
each notebook's batch with ``labutils.grading.grade.grade`` (``--jobs``, default 2) and prints the rate.
``--workers 1,2,4`` then grades one notebook's batch (``--cluster-notebook``) on Dask ``LocalCluster``s of
that many single-threaded worker processes, the way a course grades on a cluster, and prints each rate and
its speed-up over one worker (the cluster's start is not counted; on a machine of fewer cores than workers
the extra workers share them).

    python benchmarks/grading_throughput.py [--total 60] [--jobs 2] [--workers 1,2,4]
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

import nbformat

from labutils.config import PROJECT_ROOT
from labutils.grading.grade import grade
from labutils.grading.release import is_check, is_exercise, release_notebook


def broken(nb):
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    first = next(c for c in nb.cells if is_exercise(c))
    first.source = "raise ValueError('a bug in the first exercise')"
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workers", default="", help="comma-separated LocalCluster sizes, e.g. 1,2,4")
    parser.add_argument("--cluster-notebook", default="01", help="the notebook (number) graded on the clusters")
    parser.add_argument("--cluster-total", type=int, default=24)
    args = parser.parse_args(argv)
    notebooks = [p for p in sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
                 if any(is_check(c) for c in nbformat.read(p, as_version=4).cells)]
    per_notebook = [args.total // len(notebooks) + (i < args.total % len(notebooks)) for i in range(len(notebooks))]
    kinds = ("solution", "release", "broken", "not_json")
    print(f"{args.total} submissions over {len(notebooks)} notebooks ({', '.join(kinds)} in turn), --jobs {args.jobs}")
    print(f"{'notebook':28s} {'subs':>4s} {'seconds':>8s} {'per minute':>10s}  points (solution / release / broken)")
    total_time, total = 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for path, n in zip(notebooks, per_notebook):
            subs = submissions(path, n, Path(tmp) / path.stem, kinds)
            start = time.perf_counter()
            rows = grade([subs], PROJECT_ROOT / "notebooks", Path(tmp) / "out" / path.stem, jobs=args.jobs)
            seconds = time.perf_counter() - start
            points = {k: sum(r.points for r in rows if r.student.startswith(k)) / max(1, sum(
                1 for i in range(n) if kinds[i % len(kinds)] == k)) for k in kinds[:3]}
            print(f"{path.stem:28s} {n:4d} {seconds:8.1f} {60 * n / seconds:10.1f}  "
                  f"{points['solution']:g} / {points['release']:g} / {points['broken']:g}", flush=True)
            total_time += seconds
            total += n
    print(f"{'all':28s} {total:4d} {total_time:8.1f} {60 * total / total_time:10.1f}")
    if args.workers:
        path = next(p for p in notebooks if p.name.startswith(args.cluster_notebook))
        on_clusters(path, args.cluster_total, [int(w) for w in args.workers.split(",")], kinds)


def submissions(path, n, subs, kinds):
    """n submissions of the notebook at path, kinds in turn, as <subs>/<kind><i>/<name>.ipynb -> subs."""
    nb = nbformat.read(path, as_version=4)
    for i in range(n):
        kind = kinds[i % len(kinds)]
        folder = subs / f"{kind}{i}"
        folder.mkdir(parents=True)
        text = {"solution": lambda: nbformat.writes(nb),
                "release": lambda: nbformat.writes(release_notebook(nb)),
                "broken": lambda: nbformat.writes(broken(nb)), "not_json": lambda: "{ not json"}[kind]()
        (folder / path.name).write_text(text)
    return subs


def on_clusters(path, n, sizes, kinds):
    """Grade the same n submissions of one notebook on a LocalCluster of each size; print rates and speed-ups."""
    from dask.distributed import LocalCluster
    print(f"\n{path.stem}: {n} submissions on Dask LocalClusters (one thread per worker process, "
          f"{os.cpu_count()} cores here)")
    print(f"{'workers':>7s} {'seconds':>8s} {'per minute':>10s} {'speed-up':>8s}")
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        subs = submissions(path, n, Path(tmp) / "subs", kinds)
        for size in sizes:
            with LocalCluster(n_workers=size, threads_per_worker=1, processes=True, dashboard_address=None,
                              silence_logs=50) as cluster:
                start = time.perf_counter()
                grade([subs], PROJECT_ROOT / "notebooks", Path(tmp) / f"out{size}", scheduler=cluster.scheduler_address)
                seconds = time.perf_counter() - start
            first = first or seconds
            print(f"{size:7d} {seconds:8.1f} {60 * n / seconds:10.1f} {first / seconds:7.2f}x", flush=True)


if __name__ == "__main__":
    main()
