"""The sandbox's labutils (references of the graded notebook as stubs) and the recorded answers that stand in
for earlier exercises (labutils.checks.replay.Replay). Plain functions: no sandbox needed."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from labutils.checks.framework import prepared, run_probe
from labutils.checks.replay import Replay, record_calls, replays
from labutils.checks.wire import roundtrip
from labutils.grading.grade import check_seed, grading_cases
from labutils.grading.stubs import WITHHELD, stub_source, write_stubbed_package
from labutils.lessons.bptt_derivation import BPTT, RNN_FORWARD
from labutils.lessons.numpy_char_rnn import LOSS_FUN

SOURCE = textwrap.dedent('''
    import functools

    def kept(x):
        return x


    @functools.lru_cache(maxsize=None)
    def graded(a,
               b=2):
        """Docstring."""
        return a + b


    class Model(object):
        size = 3

        def forward(self, x):
            return x
''')


def test_a_stub_keeps_the_signature_and_everything_else_and_raises():
    text = stub_source(SOURCE, {"graded", "Model"}, "labutils.fake")
    namespace = {}
    exec(text, namespace)
    assert namespace["kept"](5) == 5
    with pytest.raises(RuntimeError, match=WITHHELD):
        namespace["graded"](1)
    with pytest.raises(TypeError):            # the signature is the reference's
        namespace["graded"](1, 2, 3)
    with pytest.raises(RuntimeError, match="labutils.fake.Model " + WITHHELD):
        namespace["Model"]()
    assert "return a + b" not in text and "Docstring" not in text and "lru_cache" in text


def test_the_stubbed_package_holds_no_reference_of_the_graded_notebook(tmp_path):
    refs = frozenset({"labutils.rnn:rnn_step_forward", "labutils.rnn:rnn_backward"})
    copy = write_stubbed_package(refs, tmp_path)
    text = (tmp_path / "labutils" / "rnn.py").read_text()
    assert "np.tanh(Wxh @ x + Whh @ h_prev + bh)" not in text and "def rnn_step_backward" in text
    # its bytecode is compiled from the stubs, not copied from the real modules
    (pyc,) = (tmp_path / "labutils" / "__pycache__").glob("rnn.*.pyc")
    assert WITHHELD.encode() in pyc.read_bytes()
    code = ("import numpy as np, labutils.rnn as r\n"
            "print(r.__file__)\n"
            "try:\n    r.rnn_step_forward(np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1)), 0)\n"
            "except RuntimeError as e:\n    print('stub:', e)\n"
            "print(r.rnn_step_backward(np.ones((1, 1)), (np.ones((1, 1)),) * 5)[0].shape)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}).stdout
    assert out.startswith(copy) and "stub:" in out and WITHHELD in out and "(1, 1)" in out


def test_recorded_calls_answer_a_correct_forward_and_send_the_rest_to_the_students_own():
    from labutils import rnn
    case = grading_cases(RNN_FORWARD, check_seed(5, RNN_FORWARD.grade_id))[0]
    case = roundtrip(case)                                   # as the sandbox reads it
    own_calls = []

    def own_step(x, h_prev, Wxh, Whh, bh):
        own_calls.append(1)
        return rnn.rnn_step_forward(x, h_prev, Wxh, Whh, bh)

    namespace = {"rnn_step_forward": own_step, "np": np}
    exec(textwrap.dedent('''
        def rnn_forward(xs, h0, params):
            h, hs, steps = h0, [], []
            for x in xs:
                h, c = rnn_step_forward(x, h, Wxh=params.Wxh, Whh=params.Whh, bh=params.bh)
                hs.append(h)
                steps.append(c)
            hs = np.stack(hs)
            return hs, np.einsum("vh,thn->tvn", params.Why, hs) + params.by, (steps, hs, params)
    '''), namespace)
    fns = {"rnn_forward": namespace["rnn_forward"]}
    out = run_probe(RNN_FORWARD, fns, case, namespace, replays(RNN_FORWARD, case, namespace))
    RNN_FORWARD.verify(case, roundtrip(out))
    assert own_calls == [], "every call matched one the reference made (keywords bound by its signature)"
    assert namespace["rnn_step_forward"] is own_step, "the student's own function is back after the probe"
    replay = replays(RNN_FORWARD, case, namespace)["rnn_step_forward"]
    replay(np.zeros((3, 2)), np.zeros((5, 2)), np.zeros((5, 3)), np.zeros((5, 5)), np.zeros((5, 1)))
    assert own_calls == [1], "a call the reference never made goes to the student's own function"
    with pytest.raises(NameError, match="not defined"):
        Replay("rnn_step_forward", case["calls"]["rnn_step_forward"])(np.zeros((3, 2)), np.zeros((5, 2)),
                                                                       np.zeros((5, 3)), np.zeros((5, 5)), 0)


def test_the_recorded_calls_are_those_of_the_checked_functions_reference_only():
    case = BPTT.cases(1)[0]
    tables = record_calls(BPTT, case)
    assert set(tables) == {"rnn_step_forward", "rnn_step_backward"}, "rnn_forward is the student's, passed in"
    T = case["xs"].shape[0]
    assert len(tables["rnn_step_forward"]["calls"]) == T and len(tables["rnn_step_backward"]["calls"]) == 2 * T
    assert "cache" not in prepared(LOSS_FUN, LOSS_FUN.cases(0)[0]).get("given", {})
    assert record_calls(LOSS_FUN, LOSS_FUN.cases(0)[0])["one_hot"]["calls"], "loss_fun builds inputs with one_hot"


def test_every_check_draws_its_own_inputs():
    seeds = {check_seed(123, gid) for gid in ("check_rnn_step_forward", "check_rnn_step_backward", "check_bptt")}
    assert len(seeds) == 3
    assert check_seed(123, "check_bptt") == check_seed(123, "check_bptt")
