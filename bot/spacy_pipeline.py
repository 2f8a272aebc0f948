"""Builds the project's own spaCy pipeline (no downloadable model is used).

blank English + lookup lemmatizer (spacy-lookups-data) + rulers made from
bot/knowledge/vocabulary.yml. Each pattern carries the entity value as its `id`. Relationship
words go to a span group of their own (`doc.spans["relationship"]`, "stepdad" with `id_`
"family"), the other entities to `doc.ents`: entities cannot overlap, and the cause phrase "my
parents" would otherwise hide the relationship word "parents".

    python -m bot.spacy_pipeline [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

from bot.paths import KNOWLEDGE_DIR, SPACY_MODEL_DIR
from bot.relationships import RELATIONSHIP_SPANS
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
    relationships = nlp.add_pipe(
        "span_ruler",
        config={"spans_key": RELATIONSHIP_SPANS, "spans_filter": {"@misc": "spacy.first_longest_spans_filter.v1"}},
    )
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    nlp.initialize()
    patterns = ruler_patterns(load_yaml(VOCABULARY_FILE))
    relationships.add_patterns([p for p in patterns if p["label"] == RELATIONSHIP_SPANS])
    ruler.add_patterns([p for p in patterns if p["label"] != RELATIONSHIP_SPANS])
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
