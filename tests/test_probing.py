import numpy as np
import pytest

from labutils import probing
from labutils.lessons import snapshot_probing
from labutils.rnn import RNNParams


def model(rng, V=6, H=8):
    return RNNParams.init(V, H, V, rng, scale=1.0)


def test_encode_shapes_and_empty_text(rng):
    m = model(rng)
    h0 = rng.standard_normal((8, 1))
    assert probing.encode(m, h0, [1, 2, 3]).shape == (8, 1)
    np.testing.assert_array_equal(probing.encode(m, h0, []), h0)


def test_decode_is_deterministic_with_a_seeded_generator(rng):
    m = model(rng)
    h = np.zeros((8, 1))
    a = probing.decode(m, h, 0, 20, 1.0, np.random.default_rng(0))
    assert a == probing.decode(m, h, 0, 20, 1.0, np.random.default_rng(0)) and len(a) == 20


def test_step_rows_matches_single_steps_and_ablates(rng):
    m = model(rng)
    H_prev = rng.standard_normal((3, 8))
    H = probing.step_rows(m, H_prev, 2)
    for i in range(3):
        np.testing.assert_allclose(H[i], probing.encode(m, H_prev[i], [2]).ravel())
    off = probing.step_rows(m, H_prev, 2, units_off=[0, 5])
    assert np.all(off[:, [0, 5]] == 0) and np.allclose(off[:, 1:5], H[:, 1:5])
    no_input = probing.step_rows(m, H_prev, 2, wxh_off=range(8))
    np.testing.assert_allclose(no_input, np.tanh(H_prev @ m.Whh.T + m.bh.ravel()))


def test_attribution_sign_and_ablation(rng):
    m = model(rng, V=4, H=6)
    m.Why[:] = 0.0
    m.Why[0, 3] = 5.0                          # only unit 3 pushes towards character 0
    H_prev = rng.standard_normal((20, 6)) * 0.1
    m.Wxh[3, 1] = 4.0                          # reading character 1 switches unit 3 on
    H = probing.step_rows(m, H_prev, 1)
    attribution = probing.unit_attribution(m, H, [0])
    assert np.argmax(attribution) == 3 and np.allclose(np.delete(attribution, 3), 0)
    curve = probing.ablation_curve(m, H_prev, 1, [0], np.argsort(-attribution), [0, 1], rng, random_draws=20)
    assert curve["top"][0] > 0.9 and curve["top"][1] == pytest.approx(0.25)
    assert curve["random_mean"][1] > curve["top"][1]


def test_mean_pairwise_cosine():
    assert probing.mean_pairwise_cosine(np.ones((4, 3))) == pytest.approx(1.0)
    assert probing.mean_pairwise_cosine(np.eye(3)) == pytest.approx(0.0)


def test_encode_decode_checks_accept_reference_and_reject_bugs():
    snapshot_probing.check_encode(probing.encode)
    snapshot_probing.check_decode(probing.decode)
    with pytest.raises(AssertionError, match="h after encoding"):
        snapshot_probing.check_encode(lambda p, h0, ixs: probing.encode(p, h0, ixs[:-1]))


def test_ablation_without_random_draws_warns_nothing():
    import warnings

    from labutils.probing import ablation_curve
    from labutils.rnn import RNNParams
    params = RNNParams.init(5, 6, 5, np.random.default_rng(0), scale=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curve = ablation_curve(params, np.zeros((3, 6)), 1, [0, 1], np.arange(6), [0, 2], np.random.default_rng(0),
                               random_draws=0)
    assert np.isnan(curve["random_mean"][1]) and curve["top"].shape == (2,)
