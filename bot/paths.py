"""Where the project's files live, relative to the repository root."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
KNOWLEDGE_DIR = PACKAGE_DIR / "knowledge"
SAFETY_DIR = PACKAGE_DIR / "safety"
SPACY_MODEL_DIR = Path(os.environ.get("TRUST_SPACY_MODEL", REPO_ROOT / ".spacy" / "en_trust"))
