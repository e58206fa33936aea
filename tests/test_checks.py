"""The student-facing checks must pass the reference and fail, with a useful message, on typical bugs."""
import numpy as np
import pytest

from labutils import rnn
from labutils.checks import fallback
from labutils.lessons import bptt_derivation, numpy_char_rnn, temperature_sampling


def test_checks_pass_the_reference():
    bptt_derivation.check_rnn_step_forward(rnn.rnn_step_forward)
    bptt_derivation.check_rnn_step_backward(rnn.rnn_step_forward, rnn.rnn_step_backward)
    bptt_derivation.check_rnn_forward(rnn.rnn_forward)
    bptt_derivation.check_bptt(rnn.rnn_forward, rnn.rnn_backward)


def test_forward_without_bias_fails():
    def no_bias(x, h_prev, Wxh, Whh, bh):
        return rnn.rnn_step_forward(x, h_prev, Wxh, Whh, 0 * bh)
    with pytest.raises(AssertionError, match="h leaves out the bias") as err:
        bptt_derivation.check_rnn_step_forward(no_bias)
    assert err.value.id == "rnn_step.no_bias"


def test_unimplemented_exercise_says_so():
    def todo(*args):
        raise NotImplementedError()
    with pytest.raises(NotImplementedError, match="not implemented yet"):
        bptt_derivation.check_rnn_step_forward(todo)


def test_fallback_uses_reference_until_implemented(capsys):
    def todo(x):
        raise NotImplementedError()
    f = fallback(todo, lambda x: x + 1)
    assert f(1) == 2 and f(2) == 3
    assert capsys.readouterr().out.count("not implemented yet") == 1
    assert fallback(lambda x: x * 10, lambda x: x + 1)(2) == 20


def test_backward_missing_tanh_derivative_names_the_gradient():
    def bad_backward(dh, cache):
        x, h_prev, Wxh, Whh, h = cache
        return Wxh.T @ dh, Whh.T @ dh, dh @ x.T, dh @ h_prev.T, dh.sum(1, keepdims=True)
    with pytest.raises(AssertionError, match="skip the tanh: first da = "):
        bptt_derivation.check_rnn_step_backward(rnn.rnn_step_forward, bad_backward)


def test_bptt_with_swapped_state_names_Whh():
    def bad_backward(dlogits, cache):
        grads, dh0 = rnn.rnn_backward(dlogits, cache)
        return grads.replace(Whh=grads.Whh + 0.1 * np.ones_like(grads.Whh)), dh0
    with pytest.raises(AssertionError, match="gradient for Whh"):
        bptt_derivation.check_bptt(rnn.rnn_forward, bad_backward)


def test_a_wrong_forward_costs_only_its_own_check():
    def no_bias(x, h_prev, Wxh, Whh, bh):
        return rnn.rnn_step_forward(x, h_prev, Wxh, Whh, 0 * bh)
    bptt_derivation.check_rnn_step_backward(no_bias, rnn.rnn_step_backward)

    def forward_with_bad_step(xs, h0, params):
        return rnn.rnn_forward(xs, h0, params)
    bptt_derivation.check_rnn_forward(forward_with_bad_step)


def test_forgotten_memory_update_is_named():
    from labutils import charlm

    def no_memory(params, grads, memory, learning_rate=0.1, clip=5.0):
        for (_, p), (_, g), (_, m) in zip(params.items(), grads.items(), memory.items()):
            np.clip(g, -clip, clip, out=g)
            m = m + g * g
            p -= learning_rate * g / np.sqrt(m + 1e-8)
    with pytest.raises(AssertionError, match="memory did not change"):
        numpy_char_rnn.check_adagrad_update(no_memory)
    numpy_char_rnn.check_adagrad_update(charlm.adagrad_update)


def test_softmax_without_max_subtraction_fails():
    def naive(logits, temperature=1.0):
        if temperature <= 0:
            raise ValueError("temperature")
        e = np.exp(logits / temperature)
        return e / e.sum(axis=0, keepdims=True)
    with pytest.raises(AssertionError, match="subtract the maximum"):
        temperature_sampling.check_softmax_with_temperature(naive)


def test_checks_round_trip_as_plain_data():
    from labutils.checks.wire import roundtrip
    out = roundtrip({"a": (np.arange(3), 1.5, float("nan")), "b": [None, "x", True], "c": object()})
    assert isinstance(out["a"], tuple) and np.array_equal(out["a"][0], np.arange(3)) and np.isnan(out["a"][2])
    assert out["b"] == [None, "x", True] and out["c"] == {"__object__": "object"}


def test_fallback_uses_reference_while_the_check_fails(capsys):
    def wrong(x, h_prev, Wxh, Whh, bh):
        return rnn.rnn_step_forward(x, h_prev, Wxh, Whh, 0 * bh)
    with pytest.raises(AssertionError):
        bptt_derivation.check_rnn_step_forward(wrong)
    f = fallback(wrong, rnn.rnn_step_forward)
    args = bptt_derivation._step_args(bptt_derivation._step_cases(0)[0])
    assert np.allclose(f(*args)[0], rnn.rnn_step_forward(*args)[0])
    assert "does not pass its check yet" in capsys.readouterr().out
    bptt_derivation.check_rnn_step_forward(rnn.rnn_step_forward)
    mine = fallback(rnn.rnn_step_forward, lambda *a: "reference")
    assert mine(*args) != "reference"


def test_each_lesson_finds_its_checks_and_references_in_its_own_module():
    """The registry: a notebook's check cells are its module's CHECKS, its exercises its REFERENCES."""
    import nbformat

    from labutils.config import lesson_notebooks
    from labutils.grading.release import grade_meta, is_check, is_exercise
    from labutils.lessons import checks_of, find_check, lesson_module, references_of
    for path in lesson_notebooks():
        nb = nbformat.read(path, as_version=4)
        checks = [grade_meta(c)["grade_id"] for c in nb.cells if is_check(c)]
        exercises = [grade_meta(c)["grade_id"] for c in nb.cells if is_exercise(c)]
        assert sorted(checks_of(path)) == sorted(checks), f"{path.name}: CHECKS of {lesson_module(path)}"
        assert sorted(references_of(path)) == sorted(exercises), f"{path.name}: REFERENCES of {lesson_module(path)}"
        for gid in checks:
            assert find_check(gid, path).grade_id == gid
    with pytest.raises(KeyError, match="labutils/lessons/bptt_derivation.py"):
        find_check("check_nothing", "01_bptt_derivation.ipynb")
    assert checks_of("07_lstm_text_generation") == {} and checks_of("not a lesson") == {}


def test_the_numpy_lessons_checks_never_import_torch():
    import subprocess
    import sys
    code = ("import sys\nfrom labutils.lessons import checks_of\n"
            "for n in ('01_bptt_derivation', '02_numpy_char_rnn', '03_temperature_sampling', '04_snapshot_probing'):\n"
            "    checks_of(n)\n"
            "assert 'torch' not in sys.modules, 'a NumPy lesson imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-7), (np.float32, 1e-5)])
def test_one_tolerance_policy_for_arrays_and_tensors(dtype, tol):
    """assert_close: the normwise relative error, below 1e-7 in float64 and 1e-5 in float32, for NumPy arrays
    and tensors alike; shapes and NaNs are named before any number."""
    from labutils.checks import assert_close
    expected = np.linspace(-1, 1, 12, dtype=dtype).reshape(3, 4)
    assert_close("x", expected * (1 + tol / 10), expected)
    with pytest.raises(AssertionError, match=rf"relative error .*\(should be < {tol:.0e}\)"):
        assert_close("x", expected * (1 + 10 * tol), expected)
    with pytest.raises(AssertionError, match=r"x has shape \(4, 3\), expected \(3, 4\)"):
        assert_close("x", expected.T, expected)
    with pytest.raises(AssertionError, match="NaN or inf"):
        assert_close("x", expected * np.nan, expected)
    torch = pytest.importorskip("torch")
    assert_close("x", torch.from_numpy(expected * (1 + tol / 10)), torch.from_numpy(expected))
    with pytest.raises(AssertionError, match="relative error"):
        assert_close("x", torch.from_numpy(expected * (1 + 10 * tol)), expected)


def test_a_failing_check_shows_the_student_one_line_in_a_notebook():
    """In a real kernel: a check's verdict is its one message (no frames of labutils, no line of the check's code,
    which for check_one_hot or check_lstm_param_count would be the answer); the student's own error keeps only
    the student's frames."""
    import nbclient
    import nbformat
    cells = ["from labutils.lessons.numpy_char_rnn import check_one_hot\nimport numpy as np",
             "def one_hot(ix, vocab_size):\n    x = np.zeros((1, vocab_size))\n    x[0, ix] = 1\n    return x",
             "check_one_hot(one_hot)",
             "def one_hot(ix, vocab_size):\n    return np.eye(vocab_size)[:, [ix + 1000]]",
             "check_one_hot(one_hot)",
             "def one_hot(ix, vocab_size):\n    raise NotImplementedError()",
             "check_one_hot(one_hot)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, allow_errors=True, timeout=120).execute()
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["AssertionError", "IndexError", "NotImplementedError"], errors
    wrong_shape, crash, unfinished = (e.traceback for e in errors)
    assert wrong_shape == ["AssertionError: " + errors[0].evalue] and "expected (5, 1)" in errors[0].evalue
    assert unfinished == ["NotImplementedError: " + errors[2].evalue]
    text = "\n".join(crash)
    assert "ix + 1000" in text and "labutils" not in text and "expected = np.zeros" not in text, text
