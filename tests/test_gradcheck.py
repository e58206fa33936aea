import numpy as np
import pytest

from labutils.gradcheck import numerical_gradient, rel_error


def test_numerical_gradient_of_quadratic(rng):
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    g = numerical_gradient(lambda v: v @ A @ v, x)
    assert rel_error(g, (A + A.T) @ x) < 1e-9


def test_numerical_gradient_does_not_modify_input(rng):
    x = rng.standard_normal((3, 2))
    before = x.copy()
    numerical_gradient(lambda v: np.sum(v ** 3), x)
    np.testing.assert_array_equal(x, before)


def test_rel_error():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0], [-1.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes"):
        rel_error(np.zeros(2), np.zeros(3))
