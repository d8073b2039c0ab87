"""Teaching a class with the course: the student release, hub links and platform graders.

- :mod:`~course_pkg.classroom.release`: ``make release DEST=...``, a git repository for students
  with nothing of ``solutions/`` (checked by :func:`~course_pkg.classroom.release.find_leaks`);
- :mod:`~course_pkg.classroom.links`: nbgitpuller (JupyterHub) and Binder links that open the
  learner's copies of each chapter and exercise;
- :mod:`~course_pkg.classroom.platforms`: the grader as a Gradescope autograder and as a
  PrairieLearn external grader (hidden tests in the trusted process, ``results.json`` out).

Command line: ``python -m course_pkg.classroom {release,links,gradescope,prairielearn} ...``.
This layer sits beside ``course_pkg.experiments``: it uses ``book_tools`` and ``grading``.
"""
