"""`python -m chalicelib.cli` runs the same entry point as the `mfa-enforcer` console script."""

from __future__ import annotations

import sys

from chalicelib.cli.main import main

sys.exit(main())
