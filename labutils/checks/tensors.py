"""What the PyTorch lessons' checks share: tensors from a case's arrays, and a module's weights out and back in."""
import numpy as np
import torch

from labutils.checks.framework import kind


def tensor(a, dtype=None):
    """A tensor from a case's array (a copy: the student's code may modify it in place)."""
    return torch.tensor(np.array(a), dtype=dtype)


def weights_of(module):
    """{name: array} of a module's weights (copies), for a case or an output."""
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def load_weights(module, state):
    """module with the weights of state ({name: array}) -> module."""
    module.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in state.items()})
    return module


def weights_in(got, what):
    """got, if it is a module's weights ({name: array}); AssertionError naming what came back otherwise."""
    if not isinstance(got, dict) or not all(isinstance(v, np.ndarray) for v in got.values()):
        raise AssertionError(f"{what} should be a module's weights, not {kind(got)}")
    return got
