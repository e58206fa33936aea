"""What must not leave the course: the solution notebooks' secret lines (solution code, hidden tests, the
instructors' answers), and a search for them in a built folder (the site, the student repository) before it
replaces the last good one."""
import html
import re
import shutil
from pathlib import Path

from labutils.grading.release import release_notebook, secret_lines

MIN_SECRET_CHARS = 16        # shorter lines ("return h", "h = h0") are too common to count as a leak


def words(text):
    """Text as a reader meets it, reduced to its words: tags dropped, entities and JSON escapes decoded, and
    only letters and digits kept. Syntax highlighting splits code into spans and Markdown turns ** into
    <strong>, so secrets and built files are compared in this form."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("\\n", " ")
    return " ".join(re.findall(r"[A-Za-z0-9]+", text))


def shown_on_purpose(nb):
    """The words a student's copy shows by design: its Markdown and its '# HINT:' lines."""
    return " ".join(words(c.source) if c.cell_type == "markdown" else
                    " ".join(words(line) for line in c.source.splitlines() if line.lstrip().startswith("# HINT:"))
                    for c in release_notebook(nb).cells)


def course_secrets(nbs):
    """What the student edition of these solution notebooks must not contain (solution code, hidden tests,
    the instructors' answers), line by line, as words(). A line that some release shows on purpose (a formula
    one notebook's text derives is another's solution line) is not a secret."""
    shown = f" {' '.join(shown_on_purpose(nb) for nb in nbs)} "
    secrets = {words(line) for nb in nbs for line in secret_lines(nb)}
    return sorted(s for s in secrets if len(s) >= MIN_SECRET_CHARS and f" {s} " not in shown)


def find_leaks(site_dir, secrets, skip=("mathjax",)):
    """-> [(file, secret)] for every secret found in a built file (pages, the search index, ...), except in
    folders named in skip."""
    leaks = []
    for path in sorted(Path(site_dir).rglob("*")):
        if path.is_file() and path.suffix in (".html", ".json", ".js", ".ipynb", ".md", ".txt", ".xml", ".py",
                                              ".toml", ".yml", ".cff") \
                and not set(skip) & set(path.relative_to(site_dir).parts):
            text = f" {words(path.read_text(errors='replace'))} "
            leaks += [(path, line) for line in secrets if f" {line} " in text]
    return leaks


def replace_if_clean(staging, out, leaks, what, error):
    """Put the complete staging folder in place of ``out`` -> out; or, when leaks ([(file, secret)]) were
    found, delete it, leave ``out`` as it was and raise ``error`` listing them."""
    if leaks:
        shutil.rmtree(staging)
        listing = "\n".join(f"  {p.relative_to(staging)}: {line[:80]}" for p, line in leaks[:10])
        raise error(f"{what} would publish {len(leaks)} line(s) of solutions, hidden tests or answers; nothing "
                    f"was written to {out}:\n{listing}")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out
