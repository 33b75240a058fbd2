"""The artifact store's integration tests share the backend suite kept with its unit tests.

The S3 server they run against is the shared ``s3_server`` fixture (tests/integration).
"""

from __future__ import annotations

import sys
from pathlib import Path

# The shared backend suite and helpers live with the unit tests (imported by plain name),
# and disk_full_scenario beside this file.
HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parents[1] / "unit" / "artifacts"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
