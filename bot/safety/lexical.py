"""The learned layer's reader of surface words: a logistic regression on the tf-idf of a unit's
words (and word pairs) and of its runs of three to five letters, trained on the same labelled
units as the nearest-examples score. Letter runs read a typo, a censored word or slang close to
its plain form, which a sentence encoder may not. In family-grouped cross-validation, adding a
fifth of its probability to a unit's score raised recall on the written corpus at 2, 3 and 5%
false alarms from 51.5/63.5/70.5% to 53.6/65.5/76.2% (docs/crisis-detection.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

WORD_NGRAMS = (1, 2)
LETTER_NGRAMS = (3, 5)
LETTER_MIN_TEXTS = 2  # a run of letters seen in one training text only is left out
REGULARISATION = 10.0  # logistic regression's C, as in the cross-validation that chose it
ARRAY_PREFIX = "lexical_"  # the model's arrays in the classifier's npz


def _word_analyzer() -> Callable[[str], list[str]]:
    return CountVectorizer(ngram_range=WORD_NGRAMS).build_analyzer()


def _letter_analyzer() -> Callable[[str], list[str]]:
    return CountVectorizer(analyzer="char_wb", ngram_range=LETTER_NGRAMS).build_analyzer()


def _block(terms: list[str], index: dict[str, int], idf: np.ndarray, weights: np.ndarray) -> float:
    """One text's share of the logit from one block of features, weighed as sklearn's
    TfidfVectorizer(sublinear_tf=True) weighs them: (1 + log count) x idf, L2-normalised."""
    counts = Counter(index[term] for term in terms if term in index)
    if not counts:
        return 0.0
    columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
    values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[columns]
    return float(values @ weights[columns] / np.linalg.norm(values))


@dataclass
class LexicalModel:
    word_terms: np.ndarray  # (w,) str, in feature order
    word_idf: np.ndarray  # (w,)
    letter_terms: np.ndarray  # (l,) str
    letter_idf: np.ndarray  # (l,)
    weights: np.ndarray  # (w + l,)
    bias: float

    @cached_property
    def _readers(self) -> tuple[tuple[Callable[[str], list[str]], dict[str, int], np.ndarray, np.ndarray], ...]:
        """Per block of features: its analyzer, term index, idf and weights. A text is counted
        here rather than by sklearn's transform, which costs about a millisecond a call more."""
        words = len(self.word_terms)
        return (
            (_word_analyzer(), {str(t): i for i, t in enumerate(self.word_terms)}, self.word_idf, self.weights[:words]),
            (_letter_analyzer(), {str(t): i for i, t in enumerate(self.letter_terms)}, self.letter_idf, self.weights[words:]),
        )

    def _logit(self, text: str) -> float:
        return self.bias + sum(_block(analyze(text), index, idf, weights) for analyze, index, idf, weights in self._readers)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Each text's probability of being a disclosure."""
        logits = np.array([self._logit(text) for text in texts], dtype=np.float64)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    @classmethod
    def fit(cls, disclosures: list[str], negatives: list[str]) -> "LexicalModel":
        """Fitted on labelled texts (balanced classes)."""
        from sklearn.linear_model import LogisticRegression

        texts = disclosures + negatives
        # The same analyzers as `_readers` counts with, so training and reading cannot drift apart.
        words = TfidfVectorizer(analyzer=_word_analyzer(), sublinear_tf=True).fit(texts)
        letters = TfidfVectorizer(analyzer=_letter_analyzer(), min_df=LETTER_MIN_TEXTS, sublinear_tf=True).fit(texts)
        features = sparse.hstack([words.transform(texts), letters.transform(texts)]).tocsr()
        labels = np.r_[np.ones(len(disclosures)), np.zeros(len(negatives))]
        model = LogisticRegression(C=REGULARISATION, class_weight="balanced", max_iter=3000).fit(features, labels)

        def in_order(vectorizer: TfidfVectorizer) -> np.ndarray:
            return np.array(sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__))

        return cls(
            word_terms=in_order(words),
            word_idf=words.idf_.astype(np.float64),
            letter_terms=in_order(letters),
            letter_idf=letters.idf_.astype(np.float64),
            weights=model.coef_[0].astype(np.float64),
            bias=float(model.intercept_[0]),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The model as named arrays (saved in the classifier's npz, beside its own)."""
        return {ARRAY_PREFIX + field.name: np.asarray(getattr(self, field.name)) for field in fields(self)}

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray]) -> "LexicalModel":
        values = {field.name: data[ARRAY_PREFIX + field.name] for field in fields(cls)}
        return cls(**{**values, "bias": float(values["bias"])})
