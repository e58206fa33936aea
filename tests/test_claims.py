"""Numbers the text tags as measured must be printed by the run (labutils.claims)."""
import nbformat

from labutils.claims import measured_claims, printed, unprinted_claims
from labutils.config import PROJECT_ROOT


def _executed(markdown, printed_text):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell("print(...)")]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed_text)]
    return nb


def test_a_tagged_number_that_the_run_does_not_print_is_reported():
    nb = _executed("BLEU-4 0.603<!-- measured --> for the RNN, 0.705 <!-- measured --> for the LSTM, 38 %<!-- measured "
                   "--> true; 12 epochs (not tagged)", "rnn 0.6031 lstm 0.707\ntrue captions 38.2%")
    assert measured_claims(nb) == [(0, "0.603"), (0, "0.705"), (0, "38%")]
    assert unprinted_claims(nb) == [(0, "0.705")]


def test_printed_matches_at_the_claims_precision_and_reads_percentages():
    assert printed("0.94", "accuracy 0.9355") and not printed("0.99", "accuracy 0.9355")
    assert printed("49%", "0.490") and printed("49%", "49.3 %") and not printed("49%", "0.52")
    assert printed("20,000", "20,000 reviews") and printed("1.97", "1.969") and not printed("1.97", "1.961 and 2.05")


def test_the_notebooks_tag_their_measured_numbers():
    """The figures quoted from a measured run (tables of notebooks 06, 08 and 09) are tagged, so `labutils run`
    checks them against the outputs; a tag must sit right after its number."""
    tagged = {}
    for path in sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        tagged[path.stem[:2]] = len(measured_claims(nb))
        tags = sum(c.source.count("<!-- measured -->") for c in nb.cells if c.cell_type == "markdown")
        assert tags == tagged[path.stem[:2]], f"{path.name}: a <!-- measured --> tag that follows no number"
    assert all(tagged[n] > 0 for n in ("06", "08", "09")), tagged
