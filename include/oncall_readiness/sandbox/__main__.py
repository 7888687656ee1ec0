"""``python -m oncall_readiness.sandbox``: see ``oncall_readiness.sandbox.server``."""

from .server import main

raise SystemExit(main())
