"""Numerical gradients by central differences, and relative errors. Use float64."""
from typing import Callable, Dict

import numpy as np


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error of two arrays as a whole: ||a - b|| / max(||a|| + ||b||, 1e-300).

    Normwise rather than element-wise, so entries that are both ~0 don't dominate with rounding noise.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def numerical_gradient(f: Callable, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """d f / d x by central differences.

    f: a function of one array returning a scalar; it is called on perturbed *copies* of x,
    so neither f nor x relies on in-place tricks. x: any shape, float64. Returns an array like x.
    """
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        x_plus, x_minus = x.copy(), x.copy()
        x_plus[idx] += h
        x_minus[idx] -= h
        grad[idx] = (f(x_plus) - f(x_minus)) / (2 * h)
    return grad


def grad_check(params, loss_fn: Callable, grads, h: float = 1e-5) -> Dict[str, float]:
    """Compare analytic gradients with numerical ones, parameter by parameter.

    params, grads: objects with ``items()`` and ``replace(**arrays)`` (e.g. RNNParams);
    loss_fn(params) -> scalar loss. Returns {name: relative error}; the worst is max(result.values()).
    """
    analytic = dict(grads.items())
    errors = {}
    for name, value in params.items():
        numeric = numerical_gradient(lambda v, name=name: loss_fn(params.replace(**{name: v})), value, h)
        errors[name] = rel_error(analytic[name], numeric)
    return errors
