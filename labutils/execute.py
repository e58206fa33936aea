"""Execute a notebook in a fresh kernel: the one executor behind ``labutils run``, the site, the grader's
sandbox and its self-check. The kernel gets ``env`` (never this process's environment changed), and the caller
chooses how failures end the run:

* ``allow_errors=False`` (the runner): the first error stops the notebook and raises nbclient's
  ``CellExecutionError``; ``timeout`` (seconds per cell, None: no limit) raises ``CellTimeoutError``.
* ``robust=True`` (the grader): every cell runs, a cell past ``timeout`` is interrupted and gets a
  ``TimeoutError`` output, outputs are capped at ``OUTPUT_LIMIT`` characters per cell, and a cell that kills
  the kernel is replaced by an error before the notebook runs again (at most ``MAX_RESTARTS`` times).
"""
import json
from typing import Callable, Optional

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from labutils.grading.interpreter import KERNEL_DIED, MAX_RESTARTS, OUTPUT_LIMIT  # the sandbox's runner's too


class _Client(NotebookClient):
    """NotebookClient that can cap each cell's output as it arrives and report each printed line."""

    def __init__(self, *args, output_limit=None, on_line=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._limit, self._on_line = output_limit, on_line

    def output(self, outs, msg, display_id, cell_index):
        if self._on_line is not None and msg["msg_type"] == "stream":
            lines = [line for line in msg["content"].get("text", "").splitlines() if line.strip()]
            if lines:
                self._on_line(cell_index, lines[-1])
        if self._limit is None:
            return super().output(outs, msg, display_id, cell_index)
        size = sum(len(json.dumps(o)) for o in outs)
        if size > self._limit:
            return None
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and size + len(json.dumps(out)) > self._limit:
            outs.pop()
            note = f"[output truncated by the grader at {self._limit:,} characters]\n"
            outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
        return out


def execute(nb, cwd, timeout: Optional[float] = None, env: Optional[dict] = None, allow_errors: bool = False,
            robust: bool = False, on_line: Optional[Callable] = None, on_cell_executed: Optional[Callable] = None):
    """Run nb (in place) in a fresh kernel started in ``cwd`` -> nb with its outputs.

    env: the kernel's whole environment (default: this process's). robust: the grader's mode above (it implies
    allow_errors). on_line(cell_index, text): the latest line a cell printed; on_cell_executed(**kwargs): after
    each cell (nbclient's hook)."""
    options = dict(timeout=timeout, kernel_name="python3", allow_errors=allow_errors or robust,
                   resources={"metadata": {"path": str(cwd)}}, on_line=on_line)
    if on_cell_executed is not None:
        options["on_cell_executed"] = on_cell_executed
    if robust:
        options.update(output_limit=OUTPUT_LIMIT, interrupt_on_timeout=True,
                       error_on_timeout={"ename": "TimeoutError", "traceback": [],
                                         "evalue": f"the cell ran longer than {timeout} s and was interrupted"})
    for _ in range(MAX_RESTARTS + 1 if robust else 1):
        current = {"index": None}
        client = _Client(nb, on_cell_start=lambda cell, cell_index: current.update(index=cell_index), **options)
        try:
            client.execute(**({"env": env} if env is not None else {}))   # passed on to the kernel manager
            return nb
        except DeadKernelError:
            if not robust:
                raise
            nb.cells[current["index"]].source = f"raise RuntimeError({KERNEL_DIED!r})"
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
    return nb
