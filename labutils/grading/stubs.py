"""The labutils a sandbox sees: the course's package with the reference of every exercise of the notebook
being graded replaced by a stub, so that no code in the student's process can delegate to one.

The flags (``labutils.grading.flags``) name the ways into a reference; this removes the reference itself:
``reference.rnn_step_forward``, ``vars(module)``, a function's ``__globals__``, ``importlib``, ``runpy`` on
the module's file and code that behaves differently when it sees the grader all find the stub. What the
probes need from a reference (an earlier exercise's output, the calls a checked function makes to one) the
grader computes outside and sends in as data (``checks.framework.prepared``, ``checks.replay.record_calls``).

A stub raises ``RuntimeError`` with ``WITHHELD`` in its message, so a verdict can say what happened.
"""
import ast
import atexit
import compileall
import functools
import os
import shutil
import tempfile
from pathlib import Path

WITHHELD = "is withheld while this notebook is graded"


def stub_source(text, names, module):
    """text (a module's source) with the functions and classes ``names`` replaced by stubs -> source.

    A function keeps its signature and decorators and raises; a class keeps its bases and raises when
    made. Line numbers after each stub shift; nothing else changes."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    spans = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names:
            indent = " " * (node.body[0].col_offset)
            message = f"the labutils reference {module}.{node.name} {WITHHELD}: write your own"
            if isinstance(node, ast.FunctionDef):
                body = f"{indent}raise RuntimeError({message!r})\n"
            else:
                body = (f"{indent}def __init__(self, *args, **kwargs):\n"
                        f"{indent}    raise RuntimeError({message!r})\n")
            if node.body[0].lineno == node.lineno:
                raise ValueError(f"{module}.{node.name} is defined on one line: give its body lines of its own")
            spans.append((node.body[0].lineno - 1, node.end_lineno, body))
    for start, end, body in sorted(spans, reverse=True):
        lines[start:end] = [body]
    return "".join(lines)


def _targets(references):
    """{module: {name}} of "module:name" references."""
    out = {}
    for target in set(references):
        module, name = target.split(":")
        out.setdefault(module, set()).add(name)
    return out


def write_stubbed_package(references, folder):
    """A copy of the labutils package in ``folder`` with ``references`` ("module:name") stubbed -> its path.

    Readable by everyone (a sandbox may run as another uid). No bytecode is copied (a cached .pyc of the real
    module would bring the reference back); the copy's own is compiled once here, where each sandbox would
    otherwise compile every module it imports (it writes no bytecode)."""
    import labutils
    real = Path(labutils.__file__).resolve().parent
    copy = Path(folder) / "labutils"
    shutil.copytree(real, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module, names in _targets(references).items():
        parts = module.split(".")
        path = copy.joinpath(*parts[1:-1], parts[-1] + ".py")
        if not path.is_file():
            raise FileNotFoundError(f"no module {module} in labutils for the references {sorted(names)}")
        text = path.read_text(encoding="utf-8")
        missing = names - {n.name for n in ast.parse(text).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        if missing:
            raise LookupError(f"{module} defines no {sorted(missing)}: update REFERENCES in the lesson's module "
                              "(labutils.lessons)")
        path.write_text(stub_source(text, names, module), encoding="utf-8")
    compileall.compile_dir(str(copy), quiet=2, workers=1)
    for top, dirs, files in os.walk(folder):
        os.chmod(top, 0o755)
        for name in files:
            os.chmod(os.path.join(top, name), 0o644)
    return str(copy)


@functools.lru_cache(maxsize=32)
def stubbed_package(references):
    """write_stubbed_package into a temporary folder made once per set in this process (where the batch did
    not make one: a worker on another machine), removed at exit."""
    root = tempfile.mkdtemp(prefix="rnnlab-labutils-")
    atexit.register(shutil.rmtree, root, True)
    return write_stubbed_package(references, root)

