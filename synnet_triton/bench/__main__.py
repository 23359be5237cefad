"""``python -m synnet_triton.bench``."""

import sys

from synnet_triton.bench.cli import main

sys.exit(main())
