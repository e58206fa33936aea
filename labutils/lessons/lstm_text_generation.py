"""Notebook 07's lesson: its budgets (Budget). It has no graded exercise, so no checks."""
from dataclasses import dataclass

from labutils.config import LessonBudget, per_mode


@dataclass(frozen=True)
class Budget(LessonBudget):
    """Notebook 07's budgets: the LSTM's size and its training steps."""
    train_steps: int = per_mode(1200, 300)   # Adam steps of 64 x 100 characters, the same on any machine
    every: int = per_mode(100, 50)           # validate (and log the training loss) every this many steps
    sample_every: int = per_mode(300, 100)   # print a sample every this many steps
    hidden: int = per_mode(256, 128)         # LSTM units
    embed: int = per_mode(64, 32)            # character embedding size
