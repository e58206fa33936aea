"""The grader's child process: grades each task it reads on standard input (one JSON line) and writes its
result as one JSON line on standard output. Its parent, a grading worker, limits its memory and time and
replaces it when it dies (``labutils.grading.grade._safe_task``)."""
import json
import os
import sys


def main():
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)                              # nothing else this process prints can reach the results
    from labutils.grading.grade import _guarded_task
    for line in sys.stdin:
        results.write(json.dumps(_guarded_task(json.loads(line))) + "\n")
        results.flush()


if __name__ == "__main__":
    main()
