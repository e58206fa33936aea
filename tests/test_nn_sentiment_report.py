"""Notebook 05's tables and analyses, on rows made here (no training)."""
import csv

import numpy as np
import pytest

pytest.importorskip("torch")      # labutils.nn imports torch

from labutils.nn import sentiment_report as report  # noqa: E402

ROWS = [dict(cell="rnn", layers=1, bidirectional=False, test_acc=0.78, val_acc=0.80, epochs=6, best_epoch=4,
             converged=True),
        dict(cell="rnn", layers=1, bidirectional=True, test_acc=0.79, val_acc=0.79, epochs=15, best_epoch=15,
             converged=False),
        dict(cell="lstm", layers=2, bidirectional=True, test_acc=0.88, val_acc=0.87, epochs=4, best_epoch=2,
             converged=True)]


def test_the_results_table_and_its_csv(tmp_path):
    table = report.results_table(ROWS).splitlines()
    assert table[0].split() == ["cell", "layers", "directions", "test", "acc", "val", "acc", "epochs", "best",
                                "stopped"]
    assert table[2].split()[:7] == ["rnn", "1", "2", "0.790", "0.790", "15", "15"] and "NOT converged" in table[2]
    assert table[3].endswith("converged") and table[3].split()[:3] == ["lstm", "2", "2"]
    report.write_rows(ROWS, tmp_path / "rows.csv")
    with open(tmp_path / "rows.csv", newline="") as f:
        back = list(csv.DictReader(f))
    assert [r["test_acc"] for r in back] == ["0.78", "0.79", "0.88"] and list(back[0]) == list(ROWS[0])


def test_the_best_configuration_is_chosen_on_validation_not_test():
    assert report.best_by_validation(ROWS, "rnn") is ROWS[0]          # the better test accuracy is ROWS[1]'s
    with pytest.raises(ValueError, match="no configuration of cell 'gru'"):
        report.best_by_validation(ROWS, "gru")


def test_accuracy_by_length_bins_quarters_and_the_cut_reviews():
    lengths = np.array([1, 31, 32, 63, 64, 95, 96, 127, 128, 128])
    correct = {"A": np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 1], bool)}
    accuracy, labels, counts = report.accuracy_by_length(lengths, correct, 128)
    assert labels == ["1-31", "32-63", "64-95", "96-127", "128 (cut)"]
    assert counts == [2, 2, 2, 2, 2] and accuracy["A"] == [1.0, 0.0, 0.5, 1.0, 0.5]


def test_the_grid_summary():
    grid = [dict(r, commit="abc1234", machine="x86_64") for r in ROWS] + \
        [dict(ROWS[2], layers=1, bidirectional=False, commit="def5678", machine="x86_64")]
    assert report.grid_provenance(grid) == ("measured by `python benchmarks/imdb_grid.py` at commit abc1234 (x86_64): "
                                            "3 rows; commit def5678 (x86_64): 1 row")
    table = report.grid_table(grid, {("lstm", 2, True): 0.881}).splitlines()
    assert table[3].split()[-1] == "0.881" and "NOT converged" in table[2]
    missing = report.missing_configurations(grid)
    assert len(missing) == 20 - 4 and "rnn 1 layer(s)" not in missing and "lstm 5 layer(s) bidirectional" in missing
    assert report.accuracies_by_cell(grid) == {"rnn": [0.78, 0.79], "lstm": [0.88, 0.88]}
