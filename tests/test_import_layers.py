"""labutils is layered: its modules' imports of each other (at the top or inside functions) form no cycle, so
each module sits on a layer above everything it imports. ``python tests/test_import_layers.py`` prints the layers.
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "labutils"


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """{module: {labutils modules it imports}}; ``from labutils.x import y`` counts y when y is a module."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:                                  # relative: from the module's package up
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names}
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def layers(graph):
    """{module: layer}: 0 for a module that imports no labutils module, else one above its highest import;
    ValueError naming a cycle if there is one."""
    layer, visiting = {}, []

    def visit(name):
        if name in layer:
            return layer[name]
        if name in visiting:
            raise ValueError("import cycle: " + " -> ".join(visiting[visiting.index(name):] + [name]))
        visiting.append(name)
        # a package's __init__ re-exporting its own modules sits above them; a module importing its package
        # (labutils.checks.framework from labutils.checks) means the package's submodules, not its __init__
        deps = [d for d in graph[name] if not (name.startswith(d + ".") and d != name)]
        layer[name] = 1 + max((visit(d) for d in deps), default=-1)
        visiting.pop()
        return layer[name]
    for name in sorted(graph):
        visit(name)
    return layer


def test_labutils_imports_have_no_cycle_and_no_arrow_up():
    graph = import_graph()
    layer = layers(graph)                     # raises on a cycle
    assert layer["labutils.config"] < layer["labutils.grading.grade"]
    assert "labutils.__main__" not in {d for deps in graph.values() for d in deps}, "nothing imports the CLI"
    numpy_lessons = ["labutils.lessons." + m for m in ("bptt_derivation", "numpy_char_rnn", "temperature_sampling",
                                                      "snapshot_probing")]
    for name in numpy_lessons:
        assert not any(d.startswith("labutils.nn") or d == "labutils.checks.tensors" for d in graph[name]), name


if __name__ == "__main__":
    graph = import_graph()
    by_layer = {}
    for name, n in layers(graph).items():
        by_layer.setdefault(n, []).append(name.removeprefix("labutils.") or "labutils")
    for n in sorted(by_layer):
        print(f"layer {n}: {', '.join(sorted(by_layer[n]))}")
