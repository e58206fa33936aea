"""labutils.nn.minrnn: every scan computes the loop's h and gradients; the models' three ways agree."""
import pytest

torch = pytest.importorskip("torch")

from labutils.nn import minrnn  # noqa: E402


def _inputs(B, T, H, seed=0, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    a = torch.rand(B, T, H, generator=generator, dtype=dtype) * 0.5 + 0.5
    b = torch.randn(B, T, H, generator=generator, dtype=dtype)
    h0 = torch.randn(B, H, generator=generator, dtype=dtype)
    return a, b, h0


def _with_grads(scan, a, b, h0, weights):
    inputs = [t.clone().requires_grad_() for t in (a, b, h0)]
    h = scan(*inputs)
    (h * weights).sum().backward()
    return [h.detach()] + [t.grad for t in inputs]


def _rel(x, y):
    return ((x - y).abs().max() / y.abs().max()).item()


@pytest.mark.parametrize("T", [1, 2, 3, 5, 8, 33, 300])
def test_doubling_and_cumprod_scans_give_the_loops_h_and_gradients(T):
    a, b, h0 = _inputs(2, T, 3)
    weights = torch.randn(2, T, 3, dtype=torch.float64)
    expected = _with_grads(minrnn.scan_sequential, a, b, h0, weights)
    for scan in (minrnn.scan_doubling, minrnn.scan_cumprod):
        for got, want in zip(_with_grads(scan, a, b, h0, weights), expected):
            assert _rel(got, want) < 1e-12, scan.__name__


def test_log_scan_gives_the_loops_h_and_gradients_at_4096_steps():
    a, b, h0 = _inputs(2, 4096, 2)
    b, h0 = b.abs() + 0.1, h0.abs() + 0.1
    weights = torch.randn(2, 4096, 2, dtype=torch.float64)
    expected = _with_grads(minrnn.scan_sequential, a, b, h0, weights)
    got = _with_grads(lambda a, b, h0: minrnn.scan_log(torch.log(a), torch.log(b), torch.log(h0)), a, b, h0, weights)
    for g, e in zip(got, expected):
        assert _rel(g, e) < 1e-10


def test_the_doubling_scans_backward_passes_gradcheck():
    a, b, h0 = (t.requires_grad_() for t in _inputs(2, 6, 3))
    assert torch.autograd.gradcheck(minrnn.scan_doubling, (a, b, h0))


def test_cumulative_products_underflow_where_the_other_scans_do_not():
    a, b, h0 = (t.float() for t in _inputs(1, 2048, 2))
    b, h0 = b.abs() + 0.1, h0.abs() + 0.1
    exact = minrnn.scan_sequential(a.double(), b.double(), h0.double())
    assert not torch.isfinite(minrnn.scan_cumprod(a, b, h0)).all()
    assert _rel(minrnn.scan_doubling(a, b, h0).double(), exact) < 1e-5
    assert _rel(minrnn.scan_log(torch.log(a), torch.log(b), torch.log(h0)).double(), exact) < 1e-5


@pytest.mark.parametrize("model", [minrnn.MinGRU, minrnn.MinLSTM])
def test_the_models_loop_and_scans_agree_in_outputs_and_gradients(model):
    torch.manual_seed(0)
    layer = model(3, 4).double()
    x = torch.randn(2, 50, 3, dtype=torch.float64)
    results = {}
    for scan in ("loop", "log", "doubling"):
        layer.zero_grad()
        h = layer(x, scan=scan)
        h.pow(2).sum().backward()
        results[scan] = (h.detach(), layer.linear.weight.grad.clone())
    for scan in ("log", "doubling"):
        assert _rel(results[scan][0], results["loop"][0]) < 1e-10
        assert _rel(results[scan][1], results["loop"][1]) < 1e-10


def test_mingru_sequential_and_parallel_are_the_module():
    torch.manual_seed(1)
    layer = minrnn.MinGRU(3, 4).double()
    x, h0 = torch.randn(2, 20, 3, dtype=torch.float64), torch.rand(2, 4, dtype=torch.float64) + 0.1
    expected = layer(x, h0, scan="loop")
    for fn in (minrnn.mingru_sequential, minrnn.mingru_parallel):
        assert _rel(fn(x, layer.linear.weight, layer.linear.bias, h0), expected) < 1e-12


def test_a_wrong_h0_shape_names_the_expected_one():
    with pytest.raises(ValueError, match=r"give \(batch, hidden_size\) = \(2, 4\)"):
        minrnn.MinGRU(3, 4)(torch.randn(2, 5, 3), torch.zeros(4))


def test_g_is_positive_continuous_and_log_g_is_its_log():
    x = torch.linspace(-50, 50, 10001, dtype=torch.float64)
    assert (minrnn.g(x) > 0).all()
    assert abs(minrnn.g(torch.tensor(-1e-12)) - minrnn.g(torch.tensor(0.0))) < 1e-9
    assert torch.allclose(minrnn.log_g(x), torch.log(minrnn.g(x)), rtol=1e-9, atol=1e-12)
    assert torch.isfinite(minrnn.log_g(torch.tensor(-1000.0)))


@pytest.mark.parametrize("cell,module", [("gru", "GRU"), ("lstm", "LSTM")])
def test_param_counts_are_pytorchs(cell, module):
    assert minrnn.param_count(cell, 7, 5) == sum(p.numel() for p in getattr(torch.nn, module)(7, 5).parameters())


def test_param_counts_of_the_min_models():
    assert minrnn.param_count("mingru", 7, 5) == sum(p.numel() for p in minrnn.MinGRU(7, 5).parameters())
    assert minrnn.param_count("minlstm", 7, 5) == sum(p.numel() for p in minrnn.MinLSTM(7, 5).parameters())


def test_speed_table_times_every_model_at_every_length():
    table = minrnn.speed_table((4, 8), batch=2, hidden=3, repeats=1)
    assert set(table) == {"nn.LSTM", "minGRU, loop", "minGRU, log-space scan", "minGRU, doubling scan"}
    assert all(len(v) == 2 and all(s > 0 for s in v) for v in table.values())
