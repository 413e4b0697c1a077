import os
import sys

# The repository root and this directory, so `import wal` and
# `import wal_helpers` work however pytest is invoked.
_here = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.dirname(os.path.dirname(_here)), _here):
    if path not in sys.path:
        sys.path.insert(0, path)
