"""Named mistakes: a check that recognises a known wrong answer raises ``Mistake(id, message)``.

The id is stable ("<topic>.<what went wrong>", e.g. ``bptt.forward_in_time``): it is what the mistake catalogue
in ``tests/test_mistakes.py`` asserts, what ``grades.csv``'s ``mistake`` column holds and what the class report
counts, so a message can be reworded without losing the history. It is written once, at the one ``raise`` that
diagnoses the mistake. A failure that no diagnosis recognises is ``unclassified``; the report groups those by
their ``normalised`` message, so an instructor sees which new diagnoses the class needs.
"""
import re

UNCLASSIFIED = "unclassified"
ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


class Mistake(AssertionError):
    """An AssertionError that names a known mistake: ``raise Mistake("softmax.no_max_shift", "...")``."""

    def __init__(self, mistake_id: str, message: str):
        if not ID.match(mistake_id):
            raise ValueError(f"a mistake id is lowercase 'topic.what' (letters, digits, _), not {mistake_id!r}")
        super().__init__(message)
        self.id = mistake_id


def mistake_id(err) -> str:
    """The id of the mistake an AssertionError names, or ``unclassified``."""
    return getattr(err, "id", None) or UNCLASSIFIED


# a number on its own (not part of a name like h0 or d2, nor of a formula like t+1 or 1/N)
NUMBER = re.compile(r"(?<![\w.+\-/])-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?%?(?![\w/+])")
RUN = re.compile(r"#(, #)+")


def normalised(message: str, limit: int = 300) -> str:
    """message with its numbers (values, shapes, indices) replaced by #, so that the same failure on other
    inputs reads the same: "relative error 5.87e-01 at (3, 4)" -> "relative error # at (#)"."""
    text = RUN.sub("#", NUMBER.sub("#", " ".join(str(message).split())))
    return text[:limit] + ("..." if len(text) > limit else "")
