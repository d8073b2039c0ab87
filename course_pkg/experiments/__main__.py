"""``python -m course_pkg.experiments``: the few-shot table's command line."""

import sys

from course_pkg.experiments.fewshot_cli import main

sys.exit(main())
