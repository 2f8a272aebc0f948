"""Crisis detection figures: `python -m bot.safety.evaluate` (make eval-safety).

Prints, for the whole detector (patterns OR the learned layer, as the assistant runs it):
- family-grouped 5-fold cross-validation on the training families (each message read by a
  model that never saw its family; the thresholds were chosen from these same readings, so the
  figures are slightly optimistic), on all of them and on the corpus families alone (the
  pattern layer was written from the case file, so the corpus families are the fairer view,
  though some patterns, mentions and figures of speech were since written from their
  cross-validation misses and false alarms: the frozen split is the figure to trust);
- the frozen test split (a fifth of the corpus families, in story frames kept apart), read by
  the trained model. Nothing was trained, tuned or thresholded on it.
Recall: a disclosure referred at once; "with check-in": referred or asked about. False alarms:
a hard negative referred; "with check-in": referred or asked about. Right kind: a referred
disclosure whose kinds include one of its labelled kinds.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from bot.safety.assess import Assessment, decide
from bot.safety.classifier import CrisisClassifier
from bot.safety.corpus import Example, build_corpus, frame_sentences
from bot.safety.detector import get_detector
from bot.safety.train import EmbeddingCache, cross_validated_readings, read_examples


@dataclass
class Figures:
    disclosures: int
    referred: int
    referred_or_asked: int
    right_kind: int
    negatives: int
    false_alarms: int
    false_alarms_or_asked: int
    misses: list[str]
    alarms: list[str]

    def lines(self, title: str) -> list[str]:
        def share(part: int, whole: int) -> str:
            return f"{part}/{whole} ({part / whole:.1%})" if whole else "n/a"

        return [
            title,
            f"  recall (referred):            {share(self.referred, self.disclosures)}",
            f"  recall (referred or asked):   {share(self.referred_or_asked, self.disclosures)}",
            f"  right kind of service:        {share(self.right_kind, self.referred)}",
            f"  false alarms (referred):      {share(self.false_alarms, self.negatives)}",
            f"  false alarms (or asked):      {share(self.false_alarms_or_asked, self.negatives)}",
        ]


def figures(examples: list[Example], assessments: list[Assessment]) -> Figures:
    result = Figures(0, 0, 0, 0, 0, 0, 0, [], [])
    for example, found in zip(examples, assessments):
        if example.is_crisis:
            result.disclosures += 1
            result.referred += found.refer
            result.referred_or_asked += found.refer or found.check_in
            result.right_kind += found.refer and bool(set(found.kinds) & set(example.kinds))
            if not found.refer:
                result.misses.append(f"{example.family}: {example.text[:160]}")
        else:
            result.negatives += 1
            result.false_alarms += found.refer
            result.false_alarms_or_asked += found.refer or found.check_in
            if found.refer or found.check_in:
                result.alarms.append(f"{'refer' if found.refer else 'ask'} {example.family}: {example.text[:160]}")
    return result


def assess_all(examples: list[Example], readings: list, refer: float, check_in: float) -> list[Assessment]:
    detector = get_detector()
    return [decide(detector.detect(e.text), r, refer, check_in) for e, r in zip(examples, readings)]


def main() -> None:
    corpus = build_corpus()
    cache = EmbeddingCache()
    classifier = CrisisClassifier.load()
    refer, check_in = classifier.refer_threshold, classifier.check_in_threshold
    extra = frame_sentences(corpus.training_frames)
    cv_assessments = assess_all(corpus.training, cross_validated_readings(corpus.training, extra, cache), refer, check_in)
    cv = figures(corpus.training, cv_assessments)
    frozen = figures(corpus.frozen, assess_all(corpus.frozen, read_examples(classifier, corpus.frozen, cache), refer, check_in))
    cache.save()
    written = [i for i, e in enumerate(corpus.training) if e.is_written]
    cv_written = figures([corpus.training[i] for i in written], [cv_assessments[i] for i in written])
    frozen_families = len({e.family for e in corpus.frozen})
    print(f"thresholds: refer >= {refer}, check in >= {check_in}")
    print("\n".join(cv.lines(f"cross-validation, 5 folds grouped by family, all {len(corpus.training)} training messages")))
    note = "partly training: some patterns were written from their misses and false alarms"
    print("\n".join(cv_written.lines(f"  the same, on the {len(written)} corpus messages only ({note})")))
    print("\n".join(frozen.lines(f"frozen test split ({len(corpus.frozen)} messages, {frozen_families} families; never tuned on)")))
    # The frozen split's messages are never printed: reading its misses would invite tuning on it.
    if "--show-cv-errors" in sys.argv:
        print("\ncross-validation, disclosures not referred:\n" + "\n".join("  " + m for m in cv.misses))
        print("cross-validation, hard negatives referred or asked about:\n" + "\n".join("  " + a for a in cv.alarms))


if __name__ == "__main__":
    main()
