"""The text of a state file as data: JSON read by the json module, anything else as YAML.

State files are YAML, and JSON is YAML: the benchmark writes its large organisations as JSON
text, which ``json.loads`` reads in about a second where PyYAML, even with libyaml's parser,
builds the same objects in Python for a minute and more (a 2,000-team PagerDuty account). Text
that starts like a JSON object but is not JSON (YAML flow style) falls back to YAML, so any
file the emulators read before still reads the same.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

# libyaml's parser when PyYAML was built with it.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_document(text: str) -> Any:
    """``text`` as JSON when it is a JSON object, else as YAML (raises ``yaml.YAMLError`` when neither)."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return yaml.load(text, Loader=SAFE_LOADER)
