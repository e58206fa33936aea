"""Execute notebooks headless (nbclient) and write build/executed, build/html, summary.md, results.json."""
import contextlib
import json
import os
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from tqdm.auto import tqdm

from labutils.atomic import write_text
from labutils.claims import unprinted_claims
from labutils.execute import execute
from labutils.results import RESULTS_ENV


def find_error(nb):
    """(cell index, 'Ename: message') of the first cell whose outputs hold an error, else (None, None)."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return index, f"{out['ename']}: {out['evalue']}"
    return None, None


def execute_notebook(path, executed_path, results_path, mode, timeout, allow_errors=False, cwd=None):
    """Run one notebook in a fresh kernel (working directory: ``cwd``, default the notebook's folder); write the
    executed copy. allow_errors: run every cell even after one raised. -> (status, error, results, wall_s, nb)."""
    nb = nbformat.read(path, as_version=4)
    results_path = Path(results_path)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.unlink(missing_ok=True)
    env = {**os.environ, "RNNLAB_MODE": mode, RESULTS_ENV: str(results_path.resolve())}
    code_cells = sum(c.cell_type == "code" for c in nb.cells)
    # the progress bar shows each cell's latest printed line: a long cell (a training grid on a slow laptop)
    # shows that it is alive and how far it has got
    bar = tqdm(total=code_cells, desc=path.stem, unit="cell", leave=False)
    start = time.perf_counter()
    status, error = "ok", None
    try:
        execute(nb, Path(cwd or path.parent).resolve(), timeout, env=env, allow_errors=allow_errors,
                on_line=lambda cell, line: bar.set_postfix_str(f"cell {cell}: {line[:60]}", refresh=True),
                on_cell_executed=lambda **_: bar.update())
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        status = "failed"
        cell, message = find_error(nb)
        error = {"cell": cell, "error": message or f"{type(err).__name__}: {str(err).splitlines()[0]}"}
    finally:
        bar.close()
    wall = time.perf_counter() - start
    write_text(executed_path, nbformat.writes(nb))
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    return status, error, results, wall, nb


def to_html(nb):
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_notebook_node(nb)
    return body


def summary_markdown(report, mode):
    lines = [f"# RNN Lab run ({mode} mode)", "", "| notebook | status | wall time | results |", "|---|---|---|---|"]
    for name, row in report.items():
        res = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                        for k, v in row["results"].items()) or "-"
        lines.append(f"| {name} | {row['status']} | {row['wall_s']:.1f} s | {res} |")
    failed = {n: r for n, r in report.items() if r["status"] != "ok"}
    for name, row in failed.items():
        lines += ["", f"**{name} failed** at cell {row['error']['cell']}: `{row['error']['error']}`"]
    for name, row in report.items():
        if row.get("unprinted_claims"):
            claims = ", ".join(f"{c['claim']} (cell {c['cell']})" for c in row["unprinted_claims"])
            lines += ["", f"**{name}: the text states measured figures that no output printed**: {claims}. Update "
                          "the text from this run, or print what it quotes."]
    total = sum(r["wall_s"] for r in report.values())
    lines += ["", f"Total: {total:.1f} s, {len(report) - len(failed)}/{len(report)} notebooks ok."]
    return "\n".join(lines) + "\n"


class BuildFolderBusy(RuntimeError):
    """Another run is writing into the same build folder."""


@contextlib.contextmanager
def build_lock(out):
    """Hold out/.lock for the run: two runs into one folder would report each other's results."""
    import fcntl
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildFolderBusy(f"another run is writing into {out}: wait for it to finish, or give this one "
                                  "its own folder (--out)") from None
        yield


def run_notebooks(paths, out, mode="full", timeout=None):
    """Execute ``paths`` in order; return the report dict (also written as results.json and summary.md)."""
    out = Path(out)
    with build_lock(out):
        return _run_notebooks(paths, out, mode, timeout)


def _run_notebooks(paths, out, mode, timeout):
    for sub in ("executed", "html", "results"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    report = {}
    for i, path in enumerate(paths, 1):
        path = Path(path)
        name = path.stem
        print(f"[{i}/{len(paths)}] {name} ({mode}) ...", flush=True)
        status, error, results, wall, nb = execute_notebook(
            path, out / "executed" / path.name, out / "results" / f"{name}.json", mode, timeout)
        write_text(out / "html" / f"{name}.html", to_html(nb))
        report[name] = {"wall_s": round(wall, 2), "status": status, "results": results}
        if mode == "full" and status == "ok":     # the text's tagged figures are full-mode claims
            report[name]["unprinted_claims"] = [{"cell": cell, "claim": claim} for cell, claim in unprinted_claims(nb)]
        if error:
            report[name]["error"] = error
            print(f"    FAILED at cell {error['cell']}: {error['error']}", flush=True)
        else:
            print(f"    ok in {wall:.1f} s: {results}", flush=True)
        # rewrite after every notebook so a long run leaves a report even if interrupted
        write_text(out / "results.json", json.dumps(report, indent=2))
        write_text(out / "summary.md", summary_markdown(report, mode))
    return report
