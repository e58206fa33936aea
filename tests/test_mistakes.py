"""A catalogue of typical wrong answers: each must fail its own check with a message that names the bug,
and must not cost the checks of later exercises (they run with the reference in place of earlier ones)."""
import functools

import numpy as np
import pytest

from labutils import charlm, rnn, sampling
from labutils.checks.framework import run_check
from labutils.checks.mistakes import mistake_id
from labutils.lessons import checks_of
from labutils.lessons.bptt_derivation import check_bptt, check_rnn_forward, check_rnn_step_backward

# {grade_id: Check} of the NumPy lessons (the PyTorch ones' are read below, after torch is known to be there)
CHECKS = {gid: c for stem in ("01_bptt_derivation", "02_numpy_char_rnn", "03_temperature_sampling",
                              "04_snapshot_probing") for gid, c in checks_of(stem).items()}


def step_forward_no_bias(x, h_prev, Wxh, Whh, bh):
    return rnn.rnn_step_forward(x, h_prev, Wxh, Whh, 0 * bh)


def step_forward_transposed(x, h_prev, Wxh, Whh, bh):
    h = np.tanh(Wxh @ x + Whh.T @ h_prev + bh)
    return h, (x, h_prev, Wxh, Whh, h)


def step_backward_dh_prev_transposed(dh, cache):
    x, h_prev, Wxh, Whh, h = cache
    da = (1 - h * h) * dh
    return Wxh.T @ da, Whh @ da, da @ x.T, da @ h_prev.T, da.sum(axis=1, keepdims=True)


def step_backward_no_tanh_derivative(dh, cache):
    x, h_prev, Wxh, Whh, h = cache
    return Wxh.T @ dh, Whh.T @ dh, dh @ x.T, dh @ h_prev.T, dh.sum(axis=1, keepdims=True)


def step_backward_bias_not_summed(dh, cache):
    x, h_prev, Wxh, Whh, h = cache
    da = (1 - h * h) * dh
    return Wxh.T @ da, Whh.T @ da, da @ x.T, da @ h_prev.T, da.sum(axis=0, keepdims=True).T[:1].repeat(len(h), 0)


def backward_without_dh_next(dlogits, cache):
    steps, hs, params = cache
    grads = params.zeros_like()
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(len(steps))):
        grads.Why += dlogits[t] @ hs[t].T
        grads.by += dlogits[t].sum(axis=1, keepdims=True)
        dh = params.Why.T @ dlogits[t]                       # forgot + dh_next
        _, dh_next, dWxh, dWhh, dbh = rnn.rnn_step_backward(dh, steps[t])
        grads.Wxh += dWxh
        grads.Whh += dWhh
        grads.bh += dbh
    return grads, dh_next


def backward_forward_in_time(dlogits, cache):
    steps, hs, params = cache
    grads = params.zeros_like()
    grads.Why = np.einsum("tvn,thn->vh", dlogits, hs)
    grads.by = dlogits.sum(axis=(0, 2))[:, None]
    dh_next = np.zeros_like(hs[0])
    for t in range(len(steps)):                              # forward, not reversed
        _, dh_next, dWxh, dWhh, dbh = rnn.rnn_step_backward(params.Why.T @ dlogits[t] + dh_next, steps[t])
        grads.Wxh += dWxh
        grads.Whh += dWhh
        grads.bh += dbh
    return grads, dh_next


def backward_divided_by_n(dlogits, cache):
    grads, dh0 = rnn.rnn_backward(dlogits / dlogits.shape[2], cache)
    return grads, dh0


def backward_grads_is_params(dlogits, cache):
    steps, hs, params = cache
    grads = params
    for name, value in grads.items():
        value[...] = 0
    return rnn.rnn_backward(dlogits, cache)[0], np.zeros_like(hs[0])


def loss_fun_without_dhnext(inputs, targets, hprev, params):
    loss, _, h = charlm.loss_fun(inputs, targets, hprev, params)
    V = params.output_size
    xs, hs, ps = {}, {-1: hprev}, {}
    for t in range(len(inputs)):
        xs[t] = charlm.one_hot(inputs[t], V)
        hs[t] = np.tanh(params.Wxh @ xs[t] + params.Whh @ hs[t - 1] + params.bh)
        ps[t] = rnn.softmax(params.Why @ hs[t] + params.by)
    grads = params.zeros_like()
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        grads.Why += dy @ hs[t].T
        grads.by += dy
        dhraw = (1 - hs[t] ** 2) * (params.Why.T @ dy)      # forgot + dhnext
        grads.bh += dhraw
        grads.Wxh += dhraw @ xs[t].T
        grads.Whh += dhraw @ hs[t - 1].T
    return loss, grads, h


def adagrad_memory_rebound(params, grads, memory, learning_rate=0.1, clip=5.0):
    for (_, p), (_, g), (_, m) in zip(params.items(), grads.items(), memory.items()):
        np.clip(g, -clip, clip, out=g)
        m = m + g * g
        p -= learning_rate * g / np.sqrt(m + 1e-8)


def adagrad_clip_after(params, grads, memory, learning_rate=0.1, clip=5.0):
    for (_, p), (_, g), (_, m) in zip(params.items(), grads.items(), memory.items()):
        m += g * g
        np.clip(g, -clip, clip, out=g)
        p -= learning_rate * g / np.sqrt(m + 1e-8)


def softmax_no_max(logits, temperature=1.0):
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    with np.errstate(all="ignore"):
        e = np.exp(np.asarray(logits, dtype=float) / temperature)
        return e / e.sum(axis=0, keepdims=True)


def softmax_multiplies(logits, temperature=1.0):
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    return sampling.softmax_with_temperature(np.asarray(logits) * temperature, 1.0)


def softmax_no_validation(logits, temperature=1.0):
    return sampling.softmax_with_temperature(logits, temperature if temperature > 0 else 1.0)


def sample_without_feedback(params, h, seed_ix, n, temperature, rng):
    ixs = []
    for _ in range(n):
        h = np.tanh(params.Wxh[:, [seed_ix]] + params.Whh @ h + params.bh)
        p = sampling.softmax_with_temperature((params.Why @ h + params.by).ravel(), temperature)
        ixs.append(int(rng.choice(len(p), p=p)))
    return ixs, h


def sample_seed_first(params, h, seed_ix, n, temperature, rng):
    ixs, h = sampling.sample(params, h, seed_ix, n, temperature, rng)
    return [seed_ix] + ixs[:-1], h


def sample_unstable_softmax(params, h, seed_ix, n, temperature, rng):
    ixs, ix = [], seed_ix
    for _ in range(n):
        h = np.tanh(params.Wxh[:, [ix]] + params.Whh @ h + params.bh)
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp((params.Why @ h + params.by).ravel() / temperature)     # no max subtracted
            ix = int(rng.choice(len(e), p=e / e.sum()))
        ixs.append(ix)
    return ixs, h


def sample_argmax(params, h, seed_ix, n, temperature, rng):
    return sampling.sample(params, h, seed_ix, n, greedy=True)


def adagrad_params_rebound(params, grads, memory, learning_rate=0.1, clip=5.0):
    for (_, p), (_, g), (_, m) in zip(params.items(), grads.items(), memory.items()):
        np.clip(g, -clip, clip, out=g)
        m += g * g
        p = p - learning_rate * g / np.sqrt(m + 1e-8)                 # a new array: the model never changes


def softmax_wrong_exception(logits, temperature=1.0):
    if temperature <= 0:
        raise TypeError("temperature must be > 0")
    return sampling.softmax_with_temperature(logits, temperature)


def sample_first_missing(params, h, seed_ix, n, temperature, rng):
    ixs, h = sampling.sample(params, h, seed_ix, n + 1, temperature, rng)
    return ixs[1:], h


def loss_fun_divided_by_t(inputs, targets, hprev, params):
    loss, grads, h = charlm.loss_fun(inputs, targets, hprev, params)
    for _, g in grads.items():
        g /= len(inputs)
    return loss, grads, h


def one_hot_row(ix, vocab_size):
    x = np.zeros((1, vocab_size))
    x[0, ix] = 1
    return x


# (check, the student's functions, the mistake's id (labutils.checks.mistakes), a phrase of its message)
CATALOGUE = [
    ("check_rnn_step_forward", [step_forward_no_bias], "rnn_step.no_bias", "leaves out the bias"),
    ("check_rnn_step_forward", [step_forward_transposed], "rnn_step.whh_transposed", "Whh @ h_prev"),
    ("check_rnn_step_backward", [rnn.rnn_step_forward, step_backward_dh_prev_transposed],
     "rnn_step.backward_whh_not_transposed", "dh_prev = Whh.T @ da"),
    ("check_rnn_step_backward", [rnn.rnn_step_forward, step_backward_no_tanh_derivative],
     "rnn_step.no_tanh_derivative", "skip the tanh"),
    ("check_rnn_step_backward", [rnn.rnn_step_forward, step_backward_bias_not_summed], "unclassified", "dbh"),
    ("check_bptt", [rnn.rnn_forward, backward_without_dh_next], "bptt.no_dh_next", "Add dh_next"),
    ("check_bptt", [rnn.rnn_forward, backward_grads_is_params],
     "bptt.grads_alias_params", "changed the parameters it was given"),
    ("check_bptt", [rnn.rnn_forward, backward_forward_in_time], "bptt.forward_in_time", "loop runs forward in time"),
    ("check_bptt", [rnn.rnn_forward, backward_divided_by_n], "bptt.uniform_scale", "the same factor for all: 1/N"),
    ("check_loss_fun", [loss_fun_without_dhnext], "bptt.no_dh_next", "Add dhnext"),
    ("check_adagrad_update", [adagrad_memory_rebound], "adagrad.memory_rebound", "memory did not change"),
    ("check_adagrad_update", [adagrad_clip_after], "unclassified", "memory."),
    ("check_softmax_with_temperature", [softmax_no_max], "softmax.no_max_shift", "subtract the maximum"),
    ("check_softmax_with_temperature", [softmax_multiplies],
     "softmax.multiplies_temperature", "divide the logits by the temperature"),
    ("check_softmax_with_temperature", [softmax_no_validation], "softmax.no_validation", "must raise ValueError"),
    ("check_sample", [sample_without_feedback], "unclassified", "Feed each sampled index back in"),
    ("check_sample", [sample_argmax], "unclassified", "differ from the reference"),
    ("check_sample", [sample_seed_first], "sample.seed_in_output", "shifted by one, starting with the seed index"),
    ("check_sample", [sample_unstable_softmax], "sample.softmax_overflow", "subtract the maximum logit"),
    ("check_adagrad_update", [adagrad_params_rebound], "adagrad.params_rebound", "params did not change"),
    ("check_softmax_with_temperature", [softmax_wrong_exception], "softmax.wrong_exception", "raised TypeError"),
    ("check_sample", [sample_first_missing], "sample.first_index_missing", "the first one is missing"),
    ("check_loss_fun", [loss_fun_divided_by_t], "loss_fun.uniform_scale", "the same factor for all: 1/T"),
    ("check_one_hot", [one_hot_row], "unclassified", "has shape (1, 5), expected (5, 1)"),
]

CATALOGUE_IDS = [f"{c[0]}-{c[1][-1].__name__}" for c in CATALOGUE]


@pytest.mark.parametrize("grade_id,fns,mistake,phrase", CATALOGUE, ids=CATALOGUE_IDS)
def test_each_mistake_gets_the_message_that_names_it(grade_id, fns, mistake, phrase):
    with pytest.raises(AssertionError) as err:
        run_check(CHECKS[grade_id], fns)
    assert (mistake_id(err.value), phrase in str(err.value)) == (mistake, True), str(err.value)


def test_a_wrong_step_costs_only_its_own_check(capsys):
    """Later checks run with the reference in place of the earlier exercise, so they still pass."""
    def rnn_forward_calling_the_notebook_step(xs, h0, params):
        h, hs = h0, []
        for x in xs:
            h, _ = rnn_step_forward(x, h, params.Wxh, params.Whh, params.bh)   # noqa: F821 - the notebook's global
            hs.append(h)
        hs = np.stack(hs)
        return hs, np.einsum("vh,thn->tvn", params.Why, hs) + params.by, None
    globals()["rnn_step_forward"] = step_forward_no_bias
    try:
        check_rnn_forward(rnn_forward_calling_the_notebook_step)
        assert globals()["rnn_step_forward"] is step_forward_no_bias, "the student's function is put back"
    finally:
        del globals()["rnn_step_forward"]
    check_rnn_step_backward(step_forward_no_bias, rnn.rnn_step_backward)
    check_bptt(lambda xs, h0, p: rnn.rnn_forward(xs, h0, p)[:2] + (rnn.rnn_forward(xs, h0, p)[2],),
                      rnn.rnn_backward)


def test_an_unfinished_or_crashing_step_costs_only_its_own_check(capsys):
    """rnn_step_backward is judged on the reference forward's cache while rnn_step_forward raises."""
    def unfinished(*args):
        raise NotImplementedError()

    def crashing(*args):
        raise ValueError("a bug")
    def rnn_step_backward(dh, cache):
        raise NotImplementedError()
    for forward in (unfinished, crashing):
        check_rnn_step_backward(forward, rnn.rnn_step_backward)
    with pytest.raises(NotImplementedError, match="^rnn_step_backward is not implemented"):
        check_rnn_step_backward(unfinished, rnn_step_backward)


def test_students_never_read_about_markers_their_copy_lacks():
    """Released notebooks hold `# YOUR CODE HERE`, not nbgrader's markers: neither they nor a check's
    unimplemented-exercise message may mention the markers."""
    import nbformat

    from labutils.config import PROJECT_ROOT
    from labutils.grading.release import release_notebook
    for path in sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        text = nbformat.writes(release_notebook(nbformat.read(path, as_version=4)))
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN", "END HIDDEN"):
            assert marker not in text, f"{path.name}: the release mentions {marker}"

    def todo(*args, **kwargs):
        raise NotImplementedError()
    for check in CHECKS.values():
        with pytest.raises(NotImplementedError) as err:
            run_check(check, [todo] * len(check.uses))
        assert "SOLUTION" not in str(err.value) and "# YOUR CODE HERE" in str(err.value)


def test_every_exercise_keeps_a_hint_in_the_release():
    import nbformat

    from labutils.config import PROJECT_ROOT
    from labutils.grading.release import is_exercise, release_notebook
    for path in sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in release_notebook(nbformat.read(path, as_version=4)).cells:
            if is_exercise(cell):
                assert "# HINT:" in cell.source, f"{path.name}: an exercise without a hint"


# ---- the PyTorch notebooks ---------------------------------------------------------------------------------

torch = pytest.importorskip("torch")
F = torch.nn.functional
NN_CHECKS = {gid: c for stem in ("05_imdb_sentiment_pytorch", "06_rnn_vs_lstm_memory", "08_phased_lstm",
                                 "09_image_captioning", "10_parallel_recurrences")
             for gid, c in checks_of(stem).items()}


def _lstm(x, h, c, w_ih, w_hh, b_ih, b_hh, order="ifgo", forget_bias=None, tanh_out=True):
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    parts = dict(zip(order, gates.chunk(4, dim=1)))
    if forget_bias is not None:
        parts["f"] = x @ w_ih.T[:, w_ih.shape[0] // 4:w_ih.shape[0] // 2] + h @ w_hh.T[:, w_hh.shape[0] // 4:
                                                                                   w_hh.shape[0] // 2] + forget_bias
    i, f, g, o = (parts[k] for k in "ifgo")
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * (torch.tanh(c_new) if tanh_out else c_new), c_new


def _train_loop(zero_grad=True, backward=True, clip="before", step=True, mode="train", returns=np.mean):
    def train_one_epoch(model, batches, optimizer, loss_fn):
        getattr(model, mode)()
        losses = []
        for ids, lengths, labels in batches:
            if zero_grad:
                optimizer.zero_grad()
            loss = loss_fn(model(ids, lengths), labels)
            if backward:
                loss.backward()
            if clip == "before":
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            if step:
                optimizer.step()
            if clip == "after":
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            losses.append(loss.item())
        return float(returns(losses))
    return train_one_epoch


def _time_gate_python_mod(t, tau, shift, r_on, alpha=1e-3):
    phi = np.fmod(t - shift, tau) / tau                    # C's fmod: negative for t < shift
    return np.where(phi < 0.5 * r_on, 2 * phi / r_on, np.where(phi < r_on, 2 - 2 * phi / r_on, alpha * phi))


def _phased_swapped(x, t, h, c, cell):
    from labutils.nn.phased import phased_lstm_step
    h_new, c_new, k = phased_lstm_step(x, t, h, c, cell)
    h_prop, c_prop = (h_new - (1 - k) * h) / k, (c_new - (1 - k) * c) / k
    return (1 - k) * h_prop + k * h, (1 - k) * c_prop + k * c, k


def _loss_unmasked(scores, targets, mask):
    from labutils.nn.captioning import temporal_softmax_loss
    return temporal_softmax_loss(scores, targets, torch.ones_like(mask))


def _loss_over_time(scores, targets, mask):
    N = len(scores)
    return -(torch.log_softmax(scores, dim=1).gather(2, targets[..., None])[..., 0] * mask).sum() / N


def _loss_shifted_again(scores, targets, mask):
    from labutils.nn.captioning import temporal_softmax_loss
    return temporal_softmax_loss(scores[:, :-1], targets[:, 1:], mask[:, 1:])


def _decode_end_as_null(model, images, vocab, max_length=20):
    from labutils.nn.captioning import decode
    words = decode(model, images, vocab, max_length=max_length)
    return words.masked_fill(words == vocab["<END>"], vocab["<NULL>"])


def _forcing_swapped(captions, null_id):
    return captions[:, 1:], captions[:, :-1], captions[:, :-1] != null_id


def _forcing_mask_from_inputs(captions, null_id):
    return captions[:, :-1], captions[:, 1:], captions[:, :-1] != null_id


def _forcing_masks_end(captions, null_id):
    out = captions[:, 1:]
    return captions[:, :-1], out, (out != null_id) & (out != 2)


def _forcing_not_shifted(captions, null_id):
    return captions, captions, captions != null_id


def _forcing_twice(captions, null_id):
    return captions[:, :-2], captions[:, 2:], captions[:, 2:] != null_id


def _loss_per_word(scores, targets, mask):
    from labutils.nn.captioning import temporal_softmax_loss
    return temporal_softmax_loss(scores, targets, mask) * len(scores) / mask.sum()


def _decode_no_null(model, images, vocab, max_length=20):
    state = model.init_state(images)
    words = torch.full((len(images),), vocab["<START>"], dtype=torch.long)
    out = []
    for _ in range(max_length):
        scores, state = model.step(words, state)
        words = scores.argmax(1)
        out.append(words)
    return torch.stack(out, 1)


class _PaddedLast(torch.nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_size, cell="lstm"):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM}[cell](embed_dim, hidden_size, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, 1)

    def forward(self, ids, lengths):
        return self.head(self.rnn(self.embedding(ids))[0][:, -1]).squeeze(1)


def _mingru_loop(keep, add, squash=None):
    """A minGRU loop whose step is h = keep(z, h) * h + add(z, c), squashed after if squash is given."""
    def mingru_sequential(x, weight, bias, h0):
        from labutils.nn.minrnn import g
        k, c = (x @ weight.T + bias).chunk(2, dim=-1)
        z, h, out = torch.sigmoid(k), h0, []
        for t in range(x.shape[1]):
            h = keep(z[:, t], h) * h + add(z[:, t], c[:, t], g)
            out.append(h if squash is None else squash(h))
            h = out[-1]
        return torch.stack(out, dim=1)
    return mingru_sequential


def _cumprod_closed_form(h0_times=1, output="h"):
    def scan_cumprod(a, b, h0):
        A = torch.cumprod(a, dim=1)
        h = A * (h0_times * h0[:, None] + torch.cumsum(b / A, dim=1))
        if output == "h0 first":
            return torch.cat([h0[:, None], h], dim=1)
        if output == "shifted":
            return torch.cat([h0[:, None], h[:, :-1]], dim=1)
        if output == "detached":
            return torch.tensor(h.detach().numpy())
        return h
    return scan_cumprod


def _scan_log_float32_sums(log_a, log_b, log_h0):
    a_star = F.pad(torch.cumsum(log_a, dim=1), (0, 0, 1, 0))
    values = torch.cat([log_h0[:, None], log_b], dim=1)
    return torch.exp(a_star + torch.logcumsumexp(values - a_star, dim=1))[:, 1:]


def _scan_log_by_products(log_a, log_b, log_h0):
    from labutils.nn.minrnn import scan_cumprod
    return scan_cumprod(torch.exp(log_a), torch.exp(log_b), torch.exp(log_h0))


def _mingru_log(log_candidate=None, swapped=False, log_h0=True):
    def mingru_parallel(x, weight, bias, h0):
        from labutils.nn.minrnn import log_g
        k, c = (x @ weight.T + bias).chunk(2, dim=-1)
        keep, take = (-F.softplus(-k), -F.softplus(k)) if swapped else (-F.softplus(k), -F.softplus(-k))
        candidate = torch.log(c) if log_candidate == "log" else log_g(c)
        # scan_log is the notebook's name: the check binds the reference to it, as it does in the notebook
        return scan_log(keep, take + candidate, torch.log(h0) if log_h0 else h0)  # noqa: F821
    return mingru_parallel


NN_CATALOGUE = [
    ("check_mingru_sequential", _mingru_loop(lambda z, h: 1, lambda z, c, g: z * g(c)),
     "mingru.no_one_minus_z", "must be scaled by (1 - z_t)"),
    ("check_mingru_sequential", _mingru_loop(lambda z, h: z, lambda z, c, g: (1 - z) * g(c)),
     "mingru.gates_swapped", "roles swapped"),
    ("check_mingru_sequential", _mingru_loop(lambda z, h: 1 - z, lambda z, c, g: z * c), "mingru.no_g", "apply g"),
    ("check_mingru_sequential", _mingru_loop(lambda z, h: 1 - z, lambda z, c, g: z * torch.tanh(c)),
     "mingru.tanh_candidate", "the GRU's candidate"),
    ("check_mingru_sequential", _mingru_loop(lambda z, h: 1 - torch.sigmoid(h), lambda z, c, g: z * g(c)),
     "mingru.reads_h", "not a linear function of h_(t-1)"),
    ("check_mingru_sequential", _mingru_loop(lambda z, h: 1 - z, lambda z, c, g: z * g(c), torch.tanh),
     "mingru.reads_h", "no tanh wraps the update"),
    ("check_scan_cumprod", _cumprod_closed_form(output="h0 first"), "scan.h0_in_output", "h_0 first"),
    ("check_scan_cumprod", _cumprod_closed_form(output="shifted"), "scan.shifted", "one step behind"),
    ("check_scan_cumprod", _cumprod_closed_form(h0_times=0), "scan.h0_dropped", "only if h_0 were 0"),
    ("check_scan_cumprod", _cumprod_closed_form(h0_times=2), "scan.h0_doubled", "counts h_0 twice"),
    ("check_scan_cumprod", _cumprod_closed_form(output="detached"), "scan.no_gradient", "no gradient reached a"),
    ("check_scan_log", _scan_log_by_products, "scan.underflow", "leaves the range of floats"),
    ("check_scan_log", _scan_log_float32_sums, "scan.float32_sums", "keep cumsum and logcumsumexp in float64"),
    ("check_mingru_parallel", _mingru_log(log_candidate="log"), "mingru.log_of_negative", "log of a negative"),
    ("check_mingru_parallel", _mingru_log(swapped=True), "mingru.log_gates_swapped", "log gates are swapped"),
    ("check_mingru_parallel", _mingru_log(log_h0=False), "mingru.h0_not_logged", "pass torch.log(h0)"),
    ("check_lstm_cell", lambda *a: _lstm(*a, order="figo"), "lstm_cell.gate_order", "in the order f, i, g, o"),
    ("check_lstm_cell", lambda *a: _lstm(*a, forget_bias=1.0),
     "lstm_cell.forget_bias_hard_coded", "forget-gate bias of 1"),
    ("check_lstm_cell", lambda *a: _lstm(*a, tanh_out=False), "unclassified", "h_new = o * tanh(c_new)"),
    ("check_lstm_cell", lambda x, h, c, w_ih, w_hh, b_ih, b_hh: _lstm(
        x, h, c, w_ih, w_hh, b_ih + torch.cat([torch.zeros(len(b_ih) // 4), torch.ones(len(b_ih) // 4),
                                               torch.zeros(len(b_ih) // 2)]), b_hh),
     "lstm_cell.forget_bias_added", "adds 1 to the forget gate"),
    ("check_lstm_param_count", lambda d, n: 4 * (d * n + n * n + 2 * n), "lstm_count.two_biases", "one bias (n)"),
    ("check_lstm_param_count", lambda d, n: d * n + n * n + n, "lstm_count.one_gate", "counts one gate"),
    ("check_time_gate", _time_gate_python_mod, "unclassified", "np.mod of a negative number"),
    ("check_phased_lstm_step", _phased_swapped, "phased_lstm.gate_swapped", "k and 1 - k are swapped"),
    ("check_temporal_softmax_loss", _loss_unmasked, "caption_loss.padding_counted", "counts the padded steps"),
    ("check_temporal_softmax_loss", _loss_per_word,
     "caption_loss.divided_by_words", "divided by the number of real words"),
    ("check_teacher_forcing", _forcing_swapped, "teacher_forcing.swapped", "are swapped"),
    ("check_teacher_forcing", _forcing_mask_from_inputs,
     "teacher_forcing.mask_from_inputs", "mask is built from captions_in"),
    ("check_teacher_forcing", _forcing_masks_end, "teacher_forcing.mask_drops_end", "leaves out <END>"),
    ("check_teacher_forcing", _forcing_twice, "teacher_forcing.shifted_twice", "shifted by two"),
    ("check_temporal_softmax_loss", _loss_over_time,
     "caption_loss.softmax_over_time", "softmax runs over the time axis"),
    ("check_temporal_softmax_loss", _loss_shifted_again,
     "caption_loss.shifted_again", "shifts the captions by one again"),
    ("check_greedy_decode", _decode_no_null, "unclassified", "fill with <NULL>"),
    ("check_greedy_decode", _decode_end_as_null, "decode.end_as_null", "keep the <END> word itself"),
    ("check_sentiment_forward", _PaddedLast, "sentiment_model.padded_last", "last *padded* position"),
    ("check_overfit", _train_loop(step=False), "train_loop.no_step", "optimizer.step() was never called"),
    ("check_overfit", _train_loop(zero_grad=False),
     "train_loop.no_zero_grad", "call optimizer.zero_grad() at the start of every batch"),
    ("check_overfit", _train_loop(clip="after"), "train_loop.unclipped", "reached optimizer.step() unclipped"),
    ("check_overfit", _train_loop(clip=None), "train_loop.unclipped", "reached optimizer.step() unclipped"),
    ("check_overfit", _train_loop(backward=False),
     "train_loop.no_backward", "call loss.backward() before optimizer.step()"),
    ("check_overfit", _train_loop(mode="eval"), "train_loop.eval_mode", "in eval mode during training"),
    ("check_teacher_forcing", _forcing_not_shifted, "teacher_forcing.not_shifted", "are not shifted"),
    ("check_overfit", _train_loop(returns=lambda losses: losses[-1]), "train_loop.returns_last",
     "returned the last batch's loss"),
    ("check_overfit", _train_loop(returns=np.sum), "train_loop.returns_sum", "returned the sum of the batch losses"),
]

NN_CATALOGUE_IDS = [f"{c[0]}-{i}" for i, c in enumerate(NN_CATALOGUE)]


@pytest.mark.parametrize("grade_id,fn,mistake,phrase", NN_CATALOGUE, ids=NN_CATALOGUE_IDS)
def test_each_pytorch_mistake_gets_the_message_that_names_it(grade_id, fn, mistake, phrase):
    with pytest.raises(AssertionError) as err:
        run_check(NN_CHECKS[grade_id], [fn])
    assert (mistake_id(err.value), phrase in str(err.value)) == (mistake, True), str(err.value)


# ---- one mistake, one failing check, in the notebook itself ------------------------------------------------

def _notebook_namespace(stem):
    """A notebook's namespace as a student has it after running the setup and their (correct) exercise
    cells: the parameters cell's imports, then every solution cell. Training cells are not needed."""
    import nbformat

    from labutils.config import PROJECT_ROOT
    from labutils.grading.release import grade_meta, is_check, is_exercise
    nb = nbformat.read(PROJECT_ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    namespace = {"__name__": "__main__"}
    setup = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    for cell in setup + [c for c in nb.cells if is_exercise(c)]:
        exec(compile(cell.source, f"<{stem}>", "exec"), namespace)
    return namespace, [(grade_meta(c)["grade_id"], c.source) for c in nb.cells if is_check(c)]


@functools.cache
def _notebook_of_check():
    """{check grade_id: the stem of the notebook whose check cell it is}, read once for all the tests."""
    import nbformat

    from labutils.config import PROJECT_ROOT
    from labutils.grading.release import grade_meta, is_check
    return {grade_meta(c)["grade_id"]: path.stem
            for path in sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
            for c in nbformat.read(path, as_version=4).cells if is_check(c)}


def _as_if_written_in(namespace, fn, name):
    """The mistake as the student's cell would define it: a function whose globals are the notebook's, so
    that calls between exercises go through the notebook's names. (Classes are used as they are.)"""
    import types
    if not isinstance(fn, types.FunctionType):
        return fn
    for ref in fn.__code__.co_names:                      # module-level helpers the mistake itself uses
        if ref not in namespace and ref in fn.__globals__:
            namespace[ref] = fn.__globals__[ref]
    return types.FunctionType(fn.__code__, namespace, name, fn.__defaults__, fn.__closure__)


def _failing_check_cells(grade_id, wrong, checks_of):
    namespace, check_cells = _notebook_namespace(_notebook_of_check()[grade_id])
    name = checks_of[grade_id].uses[-1]
    namespace[name] = _as_if_written_in(namespace, wrong, name)
    failing = []
    for cell_id, source in check_cells:
        try:
            exec(compile(source, cell_id, "exec"), namespace)
        except AssertionError as err:
            failing.append((cell_id, str(err), mistake_id(err)))
    return failing


@pytest.mark.parametrize("grade_id,fns,mistake,phrase", CATALOGUE, ids=CATALOGUE_IDS)
def test_one_mistake_fails_exactly_its_own_check_cell(grade_id, fns, mistake, phrase, capsys):
    """The student's view: the notebook's own check cells, run in order in one namespace where every
    exercise is the solution except one typical mistake. Exactly one check cell fails, the mistake's own,
    although later exercises call the broken one (rnn_forward calls rnn_step_forward, and so on)."""
    failing = _failing_check_cells(grade_id, fns[-1], CHECKS)
    assert [cell for cell, _, _ in failing] == [grade_id], failing
    assert (failing[0][2], phrase in failing[0][1]) == (mistake, True), failing[0][1]


@pytest.mark.parametrize("grade_id,fn,mistake,phrase", NN_CATALOGUE, ids=NN_CATALOGUE_IDS)
def test_one_pytorch_mistake_fails_exactly_its_own_check_cell(grade_id, fn, mistake, phrase, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)     # tiny models: one thread is fastest, and immune to a busy machine
    try:
        failing = _failing_check_cells(grade_id, fn, NN_CHECKS)
    finally:
        torch.set_num_threads(threads)
    assert [cell for cell, _, _ in failing] == [grade_id], failing
    assert (failing[0][2], phrase in failing[0][1]) == (mistake, True), failing[0][1]


# ---- the ids: each one raised somewhere in labutils, and each one either in a catalogue above or listed here -----
# Diagnosed by a check, not yet written as a catalogue mistake (grow the catalogue, then remove them here).
NOT_YET_CATALOGUED = {
    "prerequisite.fails", "caption_loss.no_gradient", "caption_loss.gradient_at_padding",
    "sentiment_model.layers_changed", "sentiment_model.logit_shape", "train_loop.step_count",
    "train_loop.not_one_step", "time_gate.python_branching",
}


def raised_ids():
    """Every id in a ``Mistake("...")`` of labutils' source."""
    import re

    from labutils.config import PROJECT_ROOT
    return {m for path in (PROJECT_ROOT / "labutils").rglob("*.py")
            for m in re.findall(r'Mistake\(\s*"([^"]+)"', path.read_text(encoding="utf-8"))}


def test_every_mistake_id_is_catalogued_or_listed():
    catalogued = {c[2] for c in CATALOGUE + NN_CATALOGUE} - {"unclassified"}
    raised = raised_ids()
    assert catalogued <= raised, f"catalogued but raised nowhere: {sorted(catalogued - raised)}"
    assert raised - catalogued == NOT_YET_CATALOGUED, sorted(raised - catalogued ^ NOT_YET_CATALOGUED)


def test_an_id_is_topic_dot_what():
    from labutils.checks.mistakes import Mistake
    with pytest.raises(ValueError, match="topic.what"):
        Mistake("Forgot the bias", "message")
    assert mistake_id(Mistake("bptt.no_dh_next", "m")) == "bptt.no_dh_next"
    assert mistake_id(AssertionError("m")) == "unclassified"


def test_normalised_messages_read_the_same_on_other_inputs():
    from labutils.checks.mistakes import normalised
    a = normalised("BPTT gradient for Whh is wrong: relative error 5.87e-01 vs 3.1e-02 (should be < 1e-07)")
    b = normalised("BPTT gradient for Whh is wrong: relative error 2.00e-01 vs 0.5 (should be < 1e-07)")
    assert a == b == "BPTT gradient for Whh is wrong: relative error # vs # (should be < #)"
    assert normalised("got [0, 2, 2, 5], expected [2, 0, 0, 0] at d2") == "got [#], expected [#] at d2"
    assert normalised("Wxh has shape (3, 4)") == "Wxh has shape (#)"
