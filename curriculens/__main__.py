"""``python -m curriculens``: the command line, as the ``curriculens`` script runs it."""

import sys

from curriculens.cli.main import main

sys.exit(main())
