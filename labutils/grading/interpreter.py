"""Run a notebook's code cells without a Jupyter kernel: the grader's runner inside the sandbox.

A kernel's start, messaging and shutdown cost a second per submission, more than most submissions' cells.
Here the cells run in one IPython ``InteractiveShell`` (magics, ``display``, a last expression's value and
tracebacks as in Jupyter) in a forked child; the parent only supervises it, so what a submission does to its
interpreter ends with the child, as a kernel's death ends with the kernel:

* a cell that ends the child (``os._exit``, a crash, the memory limit) is replaced by an error and the
  notebook runs again from the start, at most ``MAX_RESTARTS`` times (``labutils.execute``'s robust mode);
* a cell past ``timeout`` seconds is interrupted (a KeyboardInterrupt, which ``except Exception`` lets
  through) and gets a ``TimeoutError`` output; one that outlives the interrupt by ``GRACE`` seconds is killed
  and replaced by that error before the run starts again;
* a cell keeps at most ``OUTPUT_LIMIT`` characters of output, and the parent reads the child's messages
  (JSON lines on a pipe: untrusted, since the child runs the submission) up to a cap.

The notebook is plain JSON (nbformat's v4 dicts): nothing here imports nbformat or a kernel.
"""
import io
import json
import os
import select
import signal
import time

OUTPUT_LIMIT = 100_000          # characters of output kept per cell
MAX_RESTARTS = 3
GRACE = 5.0                     # seconds a cell may run past its interrupt before the child is killed
MESSAGE_LIMIT = 4 * OUTPUT_LIMIT + 2**16
KERNEL_DIED = "the kernel died in this cell (os._exit, a crash or running out of memory), so the grader skipped it"
TRUNCATED = f"[output truncated by the grader at {OUTPUT_LIMIT:,} characters]\n"


def timeout_error(timeout):
    return {"output_type": "error", "ename": "TimeoutError", "traceback": [],
            "evalue": f"the cell ran longer than {timeout} s and was interrupted"}


# ---- the child: one interpreter, every cell ---------------------------------------------------------------

class _Outputs:
    """The running cell's outputs (nbformat v4 dicts), at most OUTPUT_LIMIT characters, then a note."""

    def __init__(self):
        self.items, self.size, self.full = [], 0, False

    def _room(self, size):
        if self.full:
            return False
        if self.size + size > OUTPUT_LIMIT:
            self.full = True
            self.items.append({"output_type": "stream", "name": "stderr", "text": TRUNCATED})
            return False
        self.size += size
        return True

    def add(self, output):
        if self._room(len(json.dumps(output, default=str))):
            self.items.append(output)

    def stream(self, name, text):
        if not text or not self._room(len(text)):
            return
        last = self.items[-1] if self.items else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text                   # consecutive writes make one output, as in Jupyter
        else:
            self.items.append({"output_type": "stream", "name": name, "text": text})


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr of the cells: what they print goes to the running cell's outputs."""

    def __init__(self, name, outputs):
        self.name, self._outputs = name, outputs

    def write(self, text):
        self._outputs().stream(self.name, str(text))
        return len(text)

    def writable(self):
        return True


def _shell(current):
    """An InteractiveShell whose displays, results and tracebacks become outputs of current()."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, *args, **kwargs):
            current().add({"output_type": "display_data", "data": data, "metadata": metadata or {}})

        def clear_output(self, wait=False):
            outputs = current()
            outputs.items.clear()
            outputs.size = 0

    class Hook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            current().add({"output_type": "execute_result", "execution_count": self.shell.execution_count,
                           "data": format_dict, "metadata": md_dict or {}})

        def finish_displayhook(self):
            pass

    class Shell(InteractiveShell):
        displayhook_class = Hook
        display_pub_class = Publisher

        def _showtraceback(self, etype, evalue, stb):
            try:
                name, text = str(etype.__name__), str(evalue)
            except Exception:   # noqa: BLE001 - an exception whose __str__ raises is still an error
                name, text = "Error", "(an exception that cannot be shown)"
            current().add({"output_type": "error", "ename": name, "evalue": text, "traceback": [str(s) for s in stb]})

    config = Config()
    config.HistoryManager.enabled = False          # no sqlite file, no saving thread
    return Shell.instance(config=config, colors="nocolor")   # instance(): what display() looks for


def _send(fd, message):
    data = (json.dumps(message, default=str) + "\n").encode("utf-8", "replace")
    while data:
        data = data[os.write(fd, data):]


def _child(sources, timeout, fd):
    """Run every cell's source in one shell; send {"start": i} before and {"done": i, ...} after each."""
    state = {"outputs": _Outputs(), "alarm": False}
    shell = _shell(lambda: state["outputs"])
    import sys
    sys.stdout, sys.stderr = _Stream("stdout", lambda: state["outputs"]), _Stream("stderr", lambda: state["outputs"])

    def interrupt(signum, frame):
        state["alarm"] = True
        raise KeyboardInterrupt

    for index, source in sources:
        state["outputs"], state["alarm"] = _Outputs(), False
        _send(fd, {"start": index})
        signal.signal(signal.SIGALRM, interrupt)   # again for every cell: a submission may have replaced it
        signal.setitimer(signal.ITIMER_REAL, timeout)
        count = shell.execution_count
        try:
            shell.run_cell(source, store_history=True)
        except KeyboardInterrupt:                  # an interrupt outside the cell's own code
            pass
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        outputs = state["outputs"].items
        if state["alarm"]:
            outputs = [o for o in outputs if o.get("ename") != "KeyboardInterrupt"] + [timeout_error(timeout)]
        _send(fd, {"done": index, "outputs": outputs, "execution_count": count})
    _send(fd, {"end": True})


# ---- the parent: supervise one run, restart it where the child was lost ----------------------------------

def _kill(pid):
    for kill in (os.killpg, os.kill):              # its process group: what it started with it, where it can
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _run_once(sources, timeout):
    """Run the cells in a new child -> (outputs {index: (outputs, count)}, lost) where lost is None when
    every cell ran, else (index, output) for the cell where the child died, hung or broke the protocol."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the child: only ever leaves through os._exit
        code = 1
        try:
            os.closerange(3, write)                # the parent's own (the grader's result pipe among them)
            os.closerange(write + 1, os.sysconf("SC_OPEN_MAX"))
            os.setpgid(0, 0)
            _child(sources, timeout, write)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    os.set_blocking(read, False)
    exited = os.pidfd_open(pid)
    results, buffer, current, ended = {}, b"", None, False
    deadline = time.monotonic() + timeout + GRACE  # shell start and each cell; between cells, GRACE
    lost = None
    try:
        while not ended and lost is None:
            ready, _, _ = select.select([read, exited], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                lost = (current, timeout_error(timeout))
                break
            chunk = b""
            try:
                chunk = os.read(read, 2**16)
            except BlockingIOError:
                pass
            if not chunk and exited in ready:      # dead, and its pipe drained
                lost = (current, None)
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            if len(buffer) > MESSAGE_LIMIT:
                lost = (current, None)
                break
            for line in lines:
                try:
                    message = json.loads(line)
                    if "start" in message:
                        current = int(message["start"])
                        deadline = time.monotonic() + timeout + GRACE
                    elif "done" in message:
                        results[int(message["done"])] = (list(message["outputs"]), message["execution_count"])
                        current, deadline = None, time.monotonic() + GRACE
                    elif message.get("end"):
                        ended = True
                except (ValueError, TypeError, KeyError):   # not the runner's message: the submission's bytes
                    lost = (current, None)
                    break
            if not chunk and not ended and lost is None and exited not in ready:
                lost = (current, None)             # its end of the pipe closed while it lives on
    finally:
        _kill(pid)
        os.waitpid(pid, 0)
        os.close(read)
        os.close(exited)
    return results, (None if ended else lost)


def run_notebook(nb, timeout):
    """Run nb's code cells (nb: a v4 notebook as plain dicts, changed in place) -> nb with outputs.

    Every cell runs, whatever the ones before it did; see the module's docstring for what a cell that hangs,
    ends the interpreter or prints too much gets instead of its outputs."""
    cells = [(i, cell) for i, cell in enumerate(nb.get("cells", [])) if cell.get("cell_type") == "code"]
    for attempt in range(MAX_RESTARTS + 1):
        sources = [(i, "".join(c["source"]) if isinstance(c.get("source"), list) else str(c.get("source", "")))
                   for i, c in cells]
        results, lost = _run_once(sources, timeout)
        for i, cell in cells:
            cell["outputs"], cell["execution_count"] = results.get(i, ([], None))
        if lost is None or lost[0] is None:
            return nb
        index, output = lost
        died = output or {"output_type": "error", "ename": "RuntimeError", "evalue": KERNEL_DIED, "traceback": []}
        nb["cells"][index]["outputs"] = [died]
        if attempt < MAX_RESTARTS:                 # the run again, with that cell an error in its place
            nb["cells"][index]["source"] = f"raise {died['ename']}({died['evalue']!r})"
    return nb
