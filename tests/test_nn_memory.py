import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labutils.nn import memory  # noqa: E402


@pytest.mark.parametrize("B,d,n", [(1, 1, 1), (3, 4, 5), (2, 10, 16)])
def test_lstm_cell_matches_torch(B, d, n):
    torch.manual_seed(B * 100 + d * 10 + n)
    ref = torch.nn.LSTMCell(d, n)
    x, h, c = torch.randn(B, d), torch.randn(B, n), torch.randn(B, n)
    h1, c1 = memory.lstm_cell_step(x, h, c, ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    h2, c2 = ref(x, (h, c))
    assert (h1 - h2).abs().max() < 1e-6 and (c1 - c2).abs().max() < 1e-6


@pytest.mark.parametrize("d,n", [(10, 128), (1, 1), (50, 64)])
def test_parameter_count(d, n):
    layer = torch.nn.LSTM(d, n)
    assert sum(p.numel() for p in layer.parameters()) == memory.lstm_param_count(d, n, bias_vectors=2)
    assert memory.lstm_param_count(d, n) == 4 * (d * n + n * n + n)


@pytest.mark.parametrize("T", [2, 3, 10, 11])
def test_palindromes(T):
    x, y = memory.palindromes(T, 50, np.random.default_rng(0))
    assert x.shape == (50, T - 1) and y.shape == (50,)
    full = torch.cat([x, y[:, None]], dim=1)
    assert torch.equal(full, full.flip(1)) and torch.equal(y, x[:, 0])
    x2, _ = memory.palindromes(T, 50, np.random.default_rng(0))
    assert torch.equal(x, x2)
    with pytest.raises(ValueError):
        memory.palindromes(1, 5, np.random.default_rng(0))


def test_adam_step_matches_torch():
    torch.manual_seed(0)
    p = torch.randn(3, 2, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.01)
    mine, m, v = p.detach().clone(), torch.zeros(3, 2), torch.zeros(3, 2)
    for t in (1, 2, 3):
        grad = torch.randn(3, 2)
        p.grad = grad.clone()
        opt.step()
        mine, m, v = memory.adam_step(mine, grad, m, v, t, lr=0.01)
    assert (mine - p.detach()).abs().max() < 1e-7


def test_gradient_norms_and_short_training():
    history = memory.train_palindromes("lstm", 4, 30, hidden_size=16, batch=32, every=15)
    model = history.model
    assert 0 <= history.results["test_acc"] <= 1 and history.step == [15, 30]
    assert history.stopped == "step cap of 30 reached"
    x, y = memory.palindromes(6, 1, np.random.default_rng(1))
    norms = memory.hidden_gradient_norms(model, x, y)
    assert norms.shape == (5,) and np.all(np.isfinite(norms)) and norms[-1] > 0
    xs, ys = memory.palindromes(6, 3, np.random.default_rng(1))
    flow = memory.relative_gradient_flow(model, xs, ys)
    assert flow.shape == (5,) and flow[-1] == 1.0
    by_hand = [memory.hidden_gradient_norms(model, xs[i:i + 1], ys[i:i + 1]) for i in range(3)]
    assert np.allclose(flow, np.median([n / n[-1] for n in by_hand], axis=0))


def _run(accs, stopped="solved at step 100", converged=True, best_metric=1.0):
    """A stand-in History for the sweep's bookkeeping: only what outcome and max_T_90 read."""
    from labutils.nn.loop import History
    h = History(step=[100], val_metric=[best_metric], best_step=100, stopped=stopped, converged=converged)
    h.results["test_acc"] = accs
    return h


def test_outcome_tells_stuck_at_chance_from_a_plateau_and_from_the_cap():
    early = "early stop at step 600: no better validation loss in 500 steps"
    assert memory.outcome(_run(1.0)) == "solved"
    assert memory.outcome(_run(0.1, early, best_metric=0.11)) == "stuck at chance"
    assert memory.outcome(_run(0.6, early, best_metric=0.62)) == "plateau"
    assert memory.outcome(_run(0.6, "step cap of 2000 reached", converged=False, best_metric=0.6)) == "step cap"


def test_max_T_90_needs_every_shorter_length_and_every_seed_on_request():
    runs = {10: [_run(1.0), _run(0.95)], 20: [_run(0.99), _run(0.85)], 30: [_run(0.3), _run(0.2)],
            45: [_run(1.0), _run(1.0)]}
    assert memory.max_T_90(runs) == 20                      # mean 0.92 at 20; 45 does not count after a failure
    assert memory.max_T_90(runs, every_seed=True) == 10
    assert memory.max_T_90({10: [_run(0.5)]}) == 0
    assert memory.mean_accuracy(runs[20]) == pytest.approx(0.92)


def test_the_curriculum_starts_each_length_from_the_previous_model_and_stops_after_a_failure():
    args = dict(max_steps=20, hidden_size=8, batch=16, every=10)
    runs = memory.sweep("lstm", [3, 4, 5], [0], fail_below=1.01, **args)     # nothing reaches 1.01: stops at T = 3
    assert list(runs) == [3]
    runs = memory.sweep("lstm", [3, 4], [0], fail_below=0.0, **args)
    continued = memory.train_palindromes("lstm", 4, seed=0, init=runs[3][0].model.state_dict(), **args)
    fresh = memory.train_palindromes("lstm", 4, seed=0, **args)
    assert continued.val_loss == runs[4][0].val_loss != fresh.val_loss
    table = memory.sweep_table({"lstm": runs}, 20)
    assert table.count("\n| ") == 2 and "2 run(s) reached the 20-step cap still improving" in table
