"""Print the readiness API's OpenAPI schema: ``python -m oncall_readiness.api.openapi > docs/api-openapi.json``."""

from __future__ import annotations

import json
import sys

from oncall_readiness.api import app

if __name__ == "__main__":
    sys.stdout.write(json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n")
