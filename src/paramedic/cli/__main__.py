"""``python -m paramedic.cli``: the same as the ``paramedic`` command."""

import sys

from paramedic.cli.root import main

sys.exit(main())
