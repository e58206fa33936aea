"""labutils.grading.flags.similarity: the pairs it flags do not depend on the grader process's hash salt."""
import json
import os
import subprocess
import sys

SOURCE = '''def rnn_backward(dlogits, cache):
    caches, hs, params = cache
    grads = params.zeros_like()
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(len(caches))):
        grads.Why += dlogits[t] @ hs[t].T
        grads.by += dlogits[t].sum(axis=1, keepdims=True)
        dh = params.Why.T @ dlogits[t] + dh_next
        dx, dh_next, a, b, c = rnn.rnn_step_backward(dh, caches[t])
        grads.Wxh += a
        grads.Whh += b
        grads.bh += c
    return grads, dh_next
'''
PADDED = SOURCE.replace("        grads.Wxh += a\n", "        grads.Wxh += a\n        unused = a.sum()\n") \
    .replace("    grads = params.zeros_like()\n", "    grads = params.zeros_like()\n    note = 'mine'\n")
RUN = """
import json, sys
from labutils.grading.flags import similarity
a, b = json.load(sys.stdin)
print(json.dumps(similarity({("ann", "nb"): {"ex": a}, ("bob", "nb"): {"ex": b}, ("cy", "nb"): {"ex": "x = 1"}})))
"""


def test_a_padded_copy_is_flagged_alike_under_every_hash_salt():
    found = set()
    for salt in ("1", "2", "3", "4"):
        out = subprocess.run([sys.executable, "-c", RUN], input=json.dumps([SOURCE, PADDED]), text=True,
                             capture_output=True, check=True, env={**os.environ, "PYTHONHASHSEED": salt})
        found.add(out.stdout)
    assert len(found) == 1, f"the flagged pairs changed with the process's hash salt: {found}"
    (pair,) = json.loads(found.pop())
    assert pair[:4] == ["ann", "bob", "nb", "ex"] and pair[4] >= 0.85
