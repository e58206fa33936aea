"""Execute a notebook in a fresh kernel, robustly: errors allowed, a timeout per cell, outputs capped, and a
cell that kills the kernel replaced by an error before the notebook is run again. The sandbox runs this on
each submission (``labutils.grading.inside``); selfcheck runs it on the release notebooks."""
import json

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

OUTPUT_LIMIT = 100_000          # characters of output kept per cell
MAX_RESTARTS = 3
KERNEL_DIED = "the kernel died in this cell (os._exit, a crash or running out of memory), so the grader skipped it"


class CappedClient(NotebookClient):
    """NotebookClient that keeps at most OUTPUT_LIMIT characters of output per cell, as outputs arrive."""

    def output(self, outs, msg, display_id, cell_index):
        size = sum(len(json.dumps(o)) for o in outs)
        if size > OUTPUT_LIMIT:
            return None
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and size + len(json.dumps(out)) > OUTPUT_LIMIT:
            outs.pop()
            note = f"[output truncated by the grader at {OUTPUT_LIMIT:,} characters]\n"
            outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
        return out


def execute(nb, cwd, timeout=300, env=None):
    """Run nb in a fresh kernel (with ``env`` as its environment, when given) -> nb with outputs."""
    for _ in range(MAX_RESTARTS + 1):
        current = {"index": None}
        client = CappedClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                              interrupt_on_timeout=True, resources={"metadata": {"path": str(cwd)}},
                              error_on_timeout={"ename": "TimeoutError",
                                                "evalue": f"the cell ran longer than {timeout} s and was interrupted",
                                                "traceback": []},
                              on_cell_start=lambda cell, cell_index: current.update(index=cell_index))
        try:
            client.execute(**({"env": env} if env is not None else {}))   # passed on to the kernel manager
            return nb
        except DeadKernelError:
            nb.cells[current["index"]].source = f"raise RuntimeError({KERNEL_DIED!r})"
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
    return nb
