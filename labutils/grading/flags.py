"""Flags for the instructor: exercises that reach for the labutils reference (the sandbox holds only stubs of
the graded notebook's references, so delegating scores 0; a flag says how it was tried), and pairs of
submissions whose code is the same once names and literals are stripped.

Everything here reads source text as data (``ast.parse``); nothing is executed.
"""
import ast
import difflib
import importlib.util
import json
import os
import re
import subprocess
import sys
from functools import lru_cache
from itertools import combinations

SIMILAR = 0.95          # normalised-token similarity to the labutils reference that gets an exercise flagged
# Share of one cell's fingerprints found in the other's that gets a pair of students reported. Measured on the
# course's own cells: a copy with a dead statement after every other line 0.88, with lines reordered 0.99;
# unrelated exercises at most 0.60 (k=12, window 4).
COPIED = 0.85
MIN_TOKENS = 25         # below this, correct answers look alike by necessity (one-line exercises)

DYNAMIC = {"__import__", "importlib", "exec", "eval", "compile", "globals", "getattr", "sys", "builtins", "vars",
           "locals", "runpy", "inspect", "__builtins__", "__loader__", "__spec__", "gc"}
# Attributes that reach into another object's code or namespace (a module's functions through a function's
# globals, a module's __dict__, a reference's file to run it again)
INTERNALS = {"__globals__", "__dict__", "__file__", "__code__", "__closure__", "__wrapped__", "__builtins__",
             "__module__", "__self__", "_getframe", "f_globals", "f_back", "__subclasses__", "__loader__"}
# Strings and names by which code can tell that it is being graded (and behave differently then)
GRADING_SIGNS = ("/job", "/sandbox", "probe", "grading", "RNNLAB_")
MAX_ANALYSED_CHARS = 200_000   # a longer exercise cell is flagged as such, not parsed: the grader's time is bounded


def _parse(text):
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):   # deep nesting: not analysed, not fatal
        return None


def tokens(tree):
    """A node-type sequence of tree with names, arguments and literals stripped and docstrings dropped."""
    out = []

    def visit(node):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body = body[1:]
            node = type(node)(**{**{f: getattr(node, f, None) for f in node._fields}, "body": body})
        label = type(node).__name__
        if isinstance(node, ast.Attribute):
            label += "." + node.attr
        if isinstance(node, (ast.Load, ast.Store, ast.Del)):
            return
        out.append(label)
        for child in ast.iter_child_nodes(node):
            visit(child)
    if tree is not None:
        visit(tree)
    return out


def ratio(a, b):
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return matcher.ratio() if matcher.real_quick_ratio() >= SIMILAR and matcher.quick_ratio() >= SIMILAR else 0.0


@lru_cache(maxsize=None)
def reference_tokens(target):
    """Tokens of a labutils reference ("module:name"), read from its source file (nothing imported)."""
    if not target:
        return ()
    module, name = target.split(":")
    spec = importlib.util.find_spec(module.rsplit(".", 1)[0]) if "." in module else None
    path = None
    if spec is not None and spec.submodule_search_locations:
        path = f"{spec.submodule_search_locations[0]}/{module.rsplit('.', 1)[1]}.py"
    try:
        tree = ast.parse(open(path, encoding="utf-8").read()) if path else None
    except OSError:
        return ()
    for node in getattr(tree, "body", []):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return tuple(tokens(node))
    return ()


def _defined_name(cell_source):
    tree = _parse(cell_source)
    for node in getattr(tree, "body", []):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            return node.name
    return None


def _solution_cell(source_nb, exercise):
    for cell in source_nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if meta.get("grade_id") == exercise and meta.get("solution"):
            return cell.source
    return ""


def _labutils_names(source_nb):
    """Names the course's parameters cell binds to labutils modules or objects."""
    names = set()
    for cell in source_nb.cells:
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        for node in ast.walk(_parse(cell.source) or ast.Module(body=[], type_ignores=[])):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labutils"):
                names |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("labutils")}
    return names


def delegation_flags(exercise, text, source_nb, reference=None):
    """Reasons to look at an exercise: it is, calls or wraps the labutils reference ("module:name", from its
    lesson's ``labutils.lessons`` module), or reads like it."""
    if not exercise or not text:
        return []
    if len(text) > MAX_ANALYSED_CHARS:
        return [f"exercise cell of {len(text):,} characters: too long to analyse, read it yourself"]
    tree = _parse(text)
    if tree is None:
        return []
    reasons, aliases = [], _labutils_names(source_nb)
    ref_name = (reference or ":").split(":")[1]
    expected = _defined_name(_solution_cell(source_nb, exercise))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(m.startswith("labutils") for m in modules):
                reasons.append("imports labutils in the exercise cell")
        elif isinstance(node, ast.Attribute) and node.attr in {ref_name, expected} - {None, ""}:
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases:
                reasons.append(f"uses {ast.unparse(node)}, the labutils reference")
        elif isinstance(node, ast.Name) and node.id == "fallback":
            reasons.append("calls fallback(), which runs the labutils reference")
        elif isinstance(node, ast.Name) and node.id in DYNAMIC:
            reasons.append(f"uses {node.id} (dynamic code or lookups)")
        elif isinstance(node, ast.Attribute) and node.attr in INTERNALS:
            reasons.append(f"reaches into internals ({node.attr}): another function's namespace or code")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "labutils" in node.value:
            reasons.append("names labutils in a string")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                any(sign in node.value for sign in GRADING_SIGNS):
            reasons.append(f"looks for signs of being graded ({node.value[:40]!r})")
    if expected and not any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == expected
                            for n in ast.walk(tree)):
        if any(isinstance(n, ast.Name) and n.id == expected and isinstance(n.ctx, ast.Store) for n in ast.walk(tree)):
            reasons.append(f"binds {expected} by assignment instead of defining it")
    mine, ref = tokens(tree), reference_tokens(reference)
    if len(mine) >= MIN_TOKENS and ref:
        to_ref, to_course = ratio(mine, list(ref)), ratio(mine, tokens(_parse(_solution_cell(source_nb, exercise))))
        if to_ref >= SIMILAR and to_ref > to_course:
            reasons.append(f"reads like the labutils reference {reference.replace(':', '.')} "
                           f"(similarity {to_ref:.2f})")
    return list(dict.fromkeys(reasons))


def _is_stub(text):
    return bool(re.search(r"raise NotImplementedError\(\)", text))


def fingerprint(text):
    """copydetect's winnowed fingerprint of a cell (names, strings and numbers normalised by its filter):
    linear in the cell's length, unlike an alignment, and indifferent to renaming."""
    import io

    from copydetect import CodeFingerprint
    return CodeFingerprint("cell.py", 12, 4, fp=io.StringIO(text), language="python")


def similarity(exercises):
    """exercises: {(student, notebook): {exercise: source}} -> [(a, b, notebook, exercise, ratio)] above COPIED.

    ratio: the larger share of one cell's fingerprints found in the other's (copydetect's winnowing), so a
    copy padded with dead statements, or with independent lines reordered, still matches its source.
    copydetect hashes its k-grams with Python's hash(), salted afresh in every process, and the salt decides
    which k-grams winnowing keeps (a padded copy measured 0.88-0.93 over twelve salts): the comparison runs in
    a child process with the salt fixed, so a regrade flags the same pairs."""
    groups = {}
    for (student, notebook), cells in exercises.items():
        for exercise, text in cells.items():
            if len(text) > MAX_ANALYSED_CHARS or _is_stub(text) or len(tokens(_parse(text))) < MIN_TOKENS:
                continue
            groups.setdefault(f"{notebook}\0{exercise}", []).append((student, text))
    out = subprocess.run([sys.executable, "-m", "labutils.grading.flags"], input=json.dumps(groups), text=True,
                         capture_output=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return [tuple(pair) for pair in json.loads(out.stdout)]


def _similar_pairs(groups):
    """{"notebook\0exercise": [(student, source)]} -> [(a, b, notebook, exercise, ratio)] above COPIED."""
    from copydetect import compare_files
    pairs = []
    for key, members in sorted(groups.items()):
        notebook, exercise = key.split("\0")
        prints = [(student, fingerprint(text)) for student, text in sorted(members)]
        for (a, fa), (b, fb) in combinations(prints, 2):
            r = float(max(compare_files(fa, fb)[1]))
            if r >= COPIED:
                pairs.append((a, b, notebook, exercise, r))
    return pairs


if __name__ == "__main__":      # similarity()'s child: the groups as JSON on stdin, the pairs as JSON on stdout
    json.dump(_similar_pairs(json.load(sys.stdin)), sys.stdout)
