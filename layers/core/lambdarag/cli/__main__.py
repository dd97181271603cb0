"""``python -m lambdarag.cli``: the ``lambdarag`` command."""

import sys

from lambdarag.cli.main import main

sys.exit(main())
