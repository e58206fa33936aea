"""Student releases and autograding, keeping nbgrader's marker format.

Authoring: exercise cells hold ``### BEGIN SOLUTION`` / ``### END SOLUTION`` and nbgrader metadata
``{"solution": true, "grade_id": ...}``; graded check cells have ``{"grade": true, "grade_id": ..., "points": n}``
and may hold ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` blocks that students never see.
"""
