"""Loading the project's YAML data files."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml


@lru_cache(maxsize=None)
def load_yaml(path: Path) -> Any:
    """Parse a YAML file once; callers must not mutate the result."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)
