"""Student releases and autograding, keeping nbgrader's marker format.

Authoring: exercise cells hold ``### BEGIN SOLUTION`` / ``### END SOLUTION`` and nbgrader metadata
``{"solution": true, "grade_id": ...}``; graded check cells have ``{"grade": true, "grade_id": ..., "points": n}``
and may hold ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` blocks that students never see.
"""
import sys

# Every grading process (the grader, its children, the runner in each sandbox) reads notebooks with nbformat,
# whose jsonschema imports rfc3987_syntax where it is installed; that module builds a grammar on import (1.2 s)
# for an "iri" format no notebook schema uses. Without it, jsonschema skips that one format check.
sys.modules.setdefault("rfc3987_syntax", None)
