"""``python -m synnet_triton.cli``: the ``synnet-triton`` command."""

import sys

from synnet_triton.cli import main

sys.exit(main())
