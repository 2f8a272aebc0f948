"""Builds the project's own spaCy pipeline (no downloadable model is used).

blank English + lookup lemmatizer (spacy-lookups-data) + an entity ruler made from
bot/knowledge/vocabulary.yml. Each ruler pattern carries the entity value as its `id`, so
"stepdad" becomes a `relationship` entity whose `ent_id_` is "family".

    python -m bot.spacy_pipeline [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

from bot.paths import KNOWLEDGE_DIR, SPACY_MODEL_DIR
from bot.yaml_data import load_yaml

VOCABULARY_FILE = KNOWLEDGE_DIR / "vocabulary.yml"


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def ruler_patterns(vocabulary: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn the vocabulary file into EntityRuler token patterns (case-insensitive)."""
    tokenizer = spacy.blank("en").tokenizer
    patterns = []
    for label, values in vocabulary["entities"].items():
        for value, phrases in values.items():
            for phrase in phrases:
                tokens = [t.text.lower() for t in tokenizer(str(phrase))]
                pattern = [{"LOWER": t} for t in tokens]
                pattern[-1] = {"LOWER": {"IN": [tokens[-1], _plural(tokens[-1])]}}
                patterns.append({"label": label, "pattern": pattern, "id": str(value)})
    return patterns


def build_pipeline() -> Language:
    """Create the pipeline in memory."""
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    nlp.initialize()
    ruler.add_patterns(ruler_patterns(load_yaml(VOCABULARY_FILE)))
    return nlp


def build(output_dir: Path = SPACY_MODEL_DIR) -> Path:
    """Build the pipeline and save it where Rasa's SpacyNLP can load it by path."""
    nlp = build_pipeline()
    output_dir.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output_dir)
    return output_dir


if __name__ == "__main__":
    target = build(Path(sys.argv[1]) if len(sys.argv) > 1 else SPACY_MODEL_DIR)
    print(f"spaCy pipeline written to {target}")
