"""How a student-facing check works; the checks themselves belong to their lessons (``labutils.lessons``).

    framework   Check, run_check, fallback, assert_close and its one tolerance policy
    wire        what crosses the sandbox's boundary (plain data, packed and unpacked)
    replay      earlier exercises as recorded answers, while a check is graded
    numpy_rnn   what the NumPy lessons' checks share; tensors: what the PyTorch lessons' checks share
"""
from labutils.checks.framework import Check, assert_close, fallback

__all__ = ["Check", "assert_close", "fallback"]
