"""RNN Lab helper package: reference implementations, data loaders, checks and the notebook runner.

The NumPy part (everything outside ``labutils.nn``) never imports torch.
"""
from labutils.config import set_seed
from labutils.results import record

__all__ = ["set_seed", "record"]
__version__ = "0.1.0"
