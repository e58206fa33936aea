"""A catalogue of typical wrong answers: each must fail its own check with a message that names the bug,
and must not cost the checks of later exercises (they run with the reference in place of earlier ones)."""
import numpy as np
import pytest

from labutils import charlm, checks, rnn, sampling


def step_forward_no_bias(x, h_prev, Wxh, Whh, bh):
    return rnn.rnn_step_forward(x, h_prev, Wxh, Whh, 0 * bh)


def step_forward_transposed(x, h_prev, Wxh, Whh, bh):
    h = np.tanh(Wxh @ x + Whh.T @ h_prev + bh)
    return h, (x, h_prev, Wxh, Whh, h)


def step_backward_dh_prev_transposed(dh, cache):
    x, h_prev, Wxh, Whh, h = cache
    da = (1 - h * h) * dh
    return Wxh.T @ da, Whh @ da, da @ x.T, da @ h_prev.T, da.sum(axis=1, keepdims=True)


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


def sample_argmax(params, h, seed_ix, n, temperature, rng):
    return sampling.sample(params, h, seed_ix, n, greedy=True)


def one_hot_row(ix, vocab_size):
    x = np.zeros((1, vocab_size))
    x[0, ix] = 1
    return x


# (check, the student's functions, a phrase the message must contain)
CATALOGUE = [
    ("check_rnn_step_forward", [step_forward_no_bias], "h is wrong"),
    ("check_rnn_step_forward", [step_forward_transposed], "order of the matrix products"),
    ("check_rnn_step_backward", [rnn.rnn_step_forward, step_backward_dh_prev_transposed], "dh_prev is wrong"),
    ("check_rnn_step_backward", [rnn.rnn_step_forward, step_backward_bias_not_summed], "dbh"),
    ("check_bptt", [rnn.rnn_forward, backward_without_dh_next], "Add dh_next"),
    ("check_bptt", [rnn.rnn_forward, backward_grads_is_params], "changed the parameters it was given"),
    ("check_loss_fun", [loss_fun_without_dhnext], "Add dhnext"),
    ("check_adagrad_update", [adagrad_memory_rebound], "memory did not change"),
    ("check_adagrad_update", [adagrad_clip_after], "memory."),
    ("check_softmax_with_temperature", [softmax_no_max], "subtract the maximum"),
    ("check_softmax_with_temperature", [softmax_multiplies], "divide the logits by the temperature"),
    ("check_softmax_with_temperature", [softmax_no_validation], "must raise ValueError"),
    ("check_sample", [sample_without_feedback], "Feed each sampled index back in"),
    ("check_sample", [sample_argmax], "differ from the reference"),
    ("check_one_hot", [one_hot_row], "has shape (1, 5), expected (5, 1)"),
]


@pytest.mark.parametrize("grade_id,fns,phrase", CATALOGUE, ids=[f"{c[0]}-{c[1][-1].__name__}" for c in CATALOGUE])
def test_each_mistake_gets_the_message_that_names_it(grade_id, fns, phrase):
    from labutils.checkspec import run_check
    with pytest.raises(AssertionError) as err:
        run_check(checks.CHECKS[grade_id], fns)
    assert phrase in str(err.value), str(err.value)


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
        checks.check_rnn_forward(rnn_forward_calling_the_notebook_step)
        assert globals()["rnn_step_forward"] is step_forward_no_bias, "the student's function is put back"
    finally:
        del globals()["rnn_step_forward"]
    checks.check_rnn_step_backward(step_forward_no_bias, rnn.rnn_step_backward)
    checks.check_bptt(lambda xs, h0, p: rnn.rnn_forward(xs, h0, p)[:2] + (rnn.rnn_forward(xs, h0, p)[2],),
                      rnn.rnn_backward)


def test_students_never_read_about_markers_their_copy_lacks():
    """Released notebooks hold `# YOUR CODE HERE`, not nbgrader's markers: neither they nor a check's
    unimplemented-exercise message may mention the markers."""
    import nbformat

    from labutils.checkspec import run_check
    from labutils.config import PROJECT_ROOT
    from labutils.grading.release import release_notebook
    for path in sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        text = nbformat.writes(release_notebook(nbformat.read(path, as_version=4)))
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN", "END HIDDEN"):
            assert marker not in text, f"{path.name}: the release mentions {marker}"

    def todo(*args, **kwargs):
        raise NotImplementedError()
    for check in checks.CHECKS.values():
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
