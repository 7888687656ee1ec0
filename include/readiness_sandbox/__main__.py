"""``python -m readiness_sandbox``: see ``readiness_sandbox.server``."""

from .server import main

raise SystemExit(main())
