# An nbgrader course for RNN Lab (an example; labutils never imports it). Copy this file and notebooks/*.ipynb
# into your course directory as nbgrader_config.py and source/<assignment>/*.ipynb, then:
#   nbgrader generate_assignment <assignment>     (student versions in release/)
#   nbgrader autograde <assignment>               (after collecting into submitted/<student>/<assignment>/)
#   nbgrader export                               (grades.csv)
# The notebooks keep nbgrader's format: exercise cells between solution markers, check cells with hidden
# tests, and "Questions to think about" answer cells graded by hand (nbgrader formgrader).
# nbgrader runs the checks in the student's kernel; `python -m labutils grade` runs every submission in a
# bubblewrap sandbox and computes verdicts outside it (README, "For instructors").
import os

c = get_config()  # noqa: F821 - nbgrader provides it
c.CourseDirectory.course_id = "rnnlab"

# Training notebooks take minutes in full mode: grade in quick mode (every cell still runs, smaller budgets),
# and give each cell time (the default 30 s is too short for notebook 02's training cell).
os.environ.setdefault("RNNLAB_MODE", "quick")
c.ExecutePreprocessor.timeout = 900
c.Execute.timeout = 900
# Where the IMDB reviews live offline (notebook 05); unset: the project's cache, then the official URL.
# os.environ.setdefault("RNNLAB_DATA_MIRROR", "/path/to/mirror")
