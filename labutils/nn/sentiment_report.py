"""Notebook 05's tables and analyses of its results: the configurations' table, the best one by validation,
accuracy by review length, and the summary of the measured grid (``sentiment.read_grid``).

A row is ``sentiment.table_row`` of ``train_and_test``'s History: cell, layers, bidirectional, test_acc, val_acc,
epochs, best_epoch, converged (and more). Plain Python and NumPy: the functions take rows and arrays, not models.
"""
import csv
from typing import Dict, List, Sequence

import numpy as np

from labutils.atomic import atomic_path


def directions(row) -> int:
    return 2 if row["bidirectional"] else 1


def write_rows(rows: Sequence[dict], path) -> None:
    """rows as a CSV file (the first row's keys as the header), written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def results_table(rows: Sequence[dict]) -> str:
    """The configurations' table: cell, layers, directions, test and validation accuracy, epochs, best epoch,
    and whether early stopping ended the run."""
    lines = [f"{'cell':5s}{'layers':>7s}{'directions':>11s}{'test acc':>10s}{'val acc':>9s}{'epochs':>8s}{'best':>6s}"
             "   stopped"]
    for r in rows:
        lines.append(f"{r['cell']:5s}{r['layers']:7d}{directions(r):11d}{r['test_acc']:10.3f}{r['val_acc']:9.3f}"
                     f"{r['epochs']:8d}{r['best_epoch']:6d}   "
                     f"{'converged' if r['converged'] else 'NOT converged: epoch cap'}")
    return "\n".join(lines)


def best_by_validation(rows: Sequence[dict], cell: str) -> dict:
    """The row of ``cell`` with the best validation accuracy (chosen on validation, never on test)."""
    mine = [r for r in rows if r["cell"] == cell]
    if not mine:
        raise ValueError(f"no configuration of cell {cell!r} among {sorted({r['cell'] for r in rows})}")
    return max(mine, key=lambda r: r["val_acc"])


def length_bins(lengths: np.ndarray, max_len: int):
    """Reviews binned by the tokens the model reads -> (bin of each review (n,), labels): four quarters of
    max_len, then the reviews cut to max_len."""
    edges = [1, max_len // 4, max_len // 2, 3 * max_len // 4, max_len, max_len + 1]
    bins = np.digitize(lengths, edges[1:-1])
    labels = [f"{edges[b]}-{edges[b + 1] - 1}" for b in range(len(edges) - 2)] + [f"{max_len} (cut)"]
    return bins, labels


def accuracy_by_length(lengths: np.ndarray, correct: Dict[str, np.ndarray], max_len: int):
    """{model: accuracy per length bin}, the bins' labels and their review counts.

    lengths (n,): tokens of each test review (after the cut); correct: {model name: (n,) bool}."""
    bins, labels = length_bins(np.asarray(lengths), max_len)
    accuracy = {name: [float(np.asarray(c)[bins == b].mean()) for b in range(len(labels))]
                for name, c in correct.items()}
    return accuracy, labels, np.bincount(bins, minlength=len(labels)).tolist()


def grid_provenance(grid: Sequence[dict]) -> str:
    """Where the grid's rows were measured: commit and machine, with their row counts."""
    runs = {}
    for g in grid:
        runs[g["commit"], g["machine"]] = runs.get((g["commit"], g["machine"]), 0) + 1
    return "measured by `python benchmarks/imdb_grid.py` at " + "; ".join(
        f"commit {commit} ({machine}): {n} row" + "s" * (n > 1) for (commit, machine), n in runs.items())


def grid_table(grid: Sequence[dict], ours: Dict[tuple, float]) -> str:
    """The grid's rows with this run's test accuracy beside each configuration it ran (ours: {(cell, layers,
    bidirectional): test_acc})."""
    lines = [f"{'cell':5s}{'layers':>7s}{'directions':>11s}{'test acc':>10s}{'epochs':>8s}{'best':>6s}   this run"]
    for g in grid:
        mine = ours.get((g["cell"], g["layers"], g["bidirectional"]))
        lines.append(f"{g['cell']:5s}{g['layers']:7d}{directions(g):11d}{g['test_acc']:10.3f}{g['epochs']:8d}"
                     f"{g['best_epoch']:6d}   {'' if mine is None else f'{mine:.3f}'}"
                     f"{'' if g['converged'] else '   NOT converged: epoch cap'}")
    return "\n".join(lines)


def missing_configurations(grid: Sequence[dict], cells=("rnn", "lstm"), max_layers=5) -> List[str]:
    """The configurations (cell x 1..max_layers layers x 1-2 directions) the grid has no row for."""
    measured = {(g["cell"], g["layers"], g["bidirectional"]) for g in grid}
    return [f"{cell} {layers} layer(s){' bidirectional' if bi else ''}" for cell in cells
            for layers in range(1, max_layers + 1) for bi in (False, True) if (cell, layers, bi) not in measured]


def accuracies_by_cell(grid: Sequence[dict], cells=("rnn", "lstm")) -> Dict[str, List[float]]:
    """{cell: the grid's test accuracies of that cell}."""
    return {cell: [g["test_acc"] for g in grid if g["cell"] == cell] for cell in cells}
