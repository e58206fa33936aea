"""Numbers the text says were measured, and whether the run printed them.

A markdown cell marks a measured number with an HTML comment right after it, which no reader sees:
``BLEU-4 0.603<!-- measured --> for the RNN``. Such a number is a claim about a full-mode run: ``labutils run``
lists, for each notebook, the tagged numbers that none of its outputs prints (rounded to the claim's
precision), so a text that stopped matching its run is found the day it stops.
"""
import re

TAG = re.compile(r"(?<![\w.])(-?\d[\d,]*(?:\.\d+)?)(\s?%)?\s*<!--\s*measured\s*-->")
NUMBER = re.compile(r"(?<![\w.])(-?\d[\d,]*(?:\.\d+)?)(\s?%)?")


def measured_claims(nb):
    """-> [(cell index, claim text)] of the numbers tagged ``<!-- measured -->`` in the markdown cells."""
    return [(index, m.group(1) + ("%" if m.group(2) else ""))
            for index, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
            for m in TAG.finditer(cell.source)]


def _printed_text(nb):
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") if isinstance(out.get("text"), str) else "".join(out.get("text", [])))
            data = out.get("data", {}).get("text/plain", "")
            parts.append(data if isinstance(data, str) else "".join(data))
    return "\n".join(parts)


def _decimals(number):
    return len(number.split(".")[1]) if "." in number else 0


def printed(claim, text):
    """Whether ``text`` prints the claim's number: the same value at the claim's precision, a percentage where
    the claim is one (printed as 38 %, 38.0% or a fraction 0.380)."""
    percent = claim.endswith("%")
    number = claim.rstrip("%").replace(",", "")
    digits = _decimals(number)
    value = float(number)
    for m in NUMBER.finditer(text):
        shown = float(m.group(1).replace(",", ""))
        candidates = [shown] if not percent else ([shown] if m.group(2) else [shown * 100] if shown <= 1 else [])
        if any(round(c, digits) == round(value, digits) and _decimals(m.group(1)) >= digits - (2 if percent else 0)
               for c in candidates):
            return True
    return False


def unprinted_claims(nb):
    """-> [(cell index, claim)] of the tagged numbers that no output of the executed notebook ``nb`` prints."""
    text = _printed_text(nb)
    return [(index, claim) for index, claim in measured_claims(nb) if not printed(claim, text)]
