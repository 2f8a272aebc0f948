"""The crisis detector: normalisation units and the labelled case file (recall and false alarms)."""

import random

import pytest

from bot.paths import REPO_ROOT
from bot.safety.detector import get_detector
from bot.yaml_data import load_yaml

CASES = load_yaml(REPO_ROOT / "tests" / "data" / "crisis_cases.yml")
DISCLOSURES = [(kind, about, text) for kind, abouts in CASES["disclosures"].items() for about, texts in abouts.items() for text in texts]
NEGATIVES = [(group, text) for group, texts in CASES["negatives"].items() for text in texts]
CASE_TEXTS = [text for _, _, text in DISCLOSURES] + [text for _, text in NEGATIVES]
# Long messages: every twelve cases in one, ~75 words each.
JOINED_TEXTS = [" ".join(CASE_TEXTS[i : i + 12]) for i in range(0, len(CASE_TEXTS), 12)]


@pytest.fixture(scope="module")
def detector():
    return get_detector()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("I WANT to KILL myself", "i want to kill myself"),
        ("su\u200bici\u200dde", "suicide"),
        ("ｓｕｉｃｉｄｅ", "suicide"),
        ("k1ll mys3lf", "kill myself"),
        ("s u i c i d e", "suicide"),
        ("s.u.i.c.i.d.e", "suicide"),
        ("i w a n t t o d i e", "i want to die"),
        ("diiiie", "die"),
        ("i want to d i e", "i want to die"),
        ("sucide", "suicide"),
        ("kms", "kill myself"),
        ("sewer slide", "suicide"),
        ("i was r*ped", "i was raped"),
        ("s**cide", "suicide"),
        ("k*ll*ng myself", "killing myself"),
        ("this is sh*t", "this is sh*t"),
        ("5* hotel, *** rating, #metoo", "5* hotel, *** rating, #metoo"),
        ("don't", "do not"),
        ("help!", "help!"),
        ("I have 2 kids and I'm 15", "i have 2 kids and i'm 15"),
        ("willing to help with billing", "willing to help with billing"),
    ],
)
def test_normalisation(detector, raw, expected):
    assert detector.normalise(raw) == expected


def test_case_file_is_big_enough_and_covers_every_kind():
    kinds = {kind for kind, _, _ in DISCLOSURES}
    assert kinds == {"suicide", "self_harm", "abuse", "sexual_violence", "immediate_danger", "harm_to_others"}
    assert len(DISCLOSURES) >= 300
    assert len(NEGATIVES) >= 250


def test_every_disclosure_is_caught_with_the_right_kind_and_person(detector):
    """Disclosed, or named (a mention: the assessor then refers or asks, tests/test_crisis_learned.py)."""
    missed = []
    for kind, about, text in DISCLOSURES:
        found = detector.detect(text)
        if kind not in found.kinds + found.mentions or found.about not in (about, "both"):
            missed.append((kind, about, text, found))
    recall = 1 - len(missed) / len(DISCLOSURES)
    print(f"\ncrisis detector recall: {recall:.1%} of {len(DISCLOSURES)} disclosures (kind and person right)")
    assert not missed, missed


def test_false_alarms_on_hard_negatives_stay_at_or_below_two_percent(detector):
    alarms = [(group, text) for group, text in NEGATIVES if detector.detect(text).is_crisis]
    rate = len(alarms) / len(NEGATIVES)
    print(f"\ncrisis detector false alarms: {rate:.1%} of {len(NEGATIVES)} hard negatives {alarms}")
    assert rate <= 0.02


def test_child_involvement_is_flagged(detector):
    assert detector.detect("my stepdad beats the kids").involves_child
    assert not detector.detect("my husband hits me").involves_child


def test_empty_binary_and_huge_messages_are_handled(detector):
    assert not detector.detect("").is_crisis
    assert not detector.detect("   \n\t").is_crisis
    assert not detector.detect("\x00\x01\xff\ufffd").is_crisis
    huge = "I keep checking his phone. " * 400 + "I want to kill myself"
    assert "suicide" in detector.detect(huge).kinds


def test_windowed_matching_finds_exactly_what_one_matcher_over_the_whole_message_finds(detector):
    """The speed-ups (PhraseMatcher for fixed phrases, anchored windows for the rest) change
    nothing: the matches equal those of one plain spaCy Matcher holding every pattern."""
    from spacy.matcher import Matcher

    from bot.safety.detector import PATTERNS_FILE, PatternCompiler

    patterns = load_yaml(PATTERNS_FILE)
    compiler = PatternCompiler(detector.nlp, patterns["macros"])
    plain = Matcher(detector.nlp.vocab)
    for section, prefix in (("kinds", ""), ("mentions", "mention:")):
        for kind, texts in patterns[section].items():
            for index, text in enumerate(texts):
                words = [w for w in text.split() if w not in (">self", ">other")]
                plain.add(f"{prefix}{kind}:{index}", compiler.compile(" ".join(words)).token_patterns)
    texts = CASE_TEXTS + JOINED_TEXTS
    # Word soups of the patterns' own words: matches at every place, window edges included.
    rng = random.Random(3)
    vocabulary = sorted(compiler.forms | {"i", "me", "my", "he", "she", "to", "and", "the", "not", "really"})
    texts += [" ".join(rng.choices(vocabulary, k=rng.randint(3, 40))) for _ in range(1500)]
    assert detector.matcher.phrases, "fixed phrases go through the PhraseMatcher"
    for text in texts:
        doc = detector.nlp(detector.normalise(text))
        assert set(detector.matcher(doc)) == set(plain(doc)), text


def test_the_detector_lemmatises_exactly_as_the_spacy_pipeline_does(detector):
    from bot.safety.detector import LookupLemmatiser, doc_features

    assert isinstance(detector.tokenise, LookupLemmatiser)
    texts = CASE_TEXTS + [detector.normalise(t) for t in CASE_TEXTS] + ["He WAS Beaten; they're hitting me!! 🙂 k1ll 42 e-mail"]
    for text in texts * 2:  # the second time from the remembered words
        ours, features = detector.tokenise(text)
        theirs = detector.nlp(text)
        assert [(t.text, t.lemma_) for t in ours] == [(t.text, t.lemma_) for t in theirs], text
        assert features == doc_features(theirs)


def test_skipping_normalisation_steps_that_cannot_apply_changes_nothing(detector):
    rng = random.Random(11)
    alphabet = "abcdeiklmnorstuwy 0134579@$!|+'-–.*_ "
    texts = CASE_TEXTS + ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 80))) for _ in range(2000)]
    texts += ["I can't, I won't, I cannot", "$end it all", "help!end it all", "k m s", "self-harm", "unalive+ me"]
    edges = ["", " ", "!", "+", "'", "-", "–", ".", "@", "x", "1"]
    texts += [rng.choice(edges) + phrase + rng.choice(edges) for phrase in detector.normalise.slang for _ in range(8)]
    for text in texts:
        assert detector.normalise(text) == detector.normalise(text, every_step=True), text


def test_child_flag_equals_that_of_a_pass_over_every_child_pattern(detector):
    """Child patterns that are also kind patterns flag the child from the kind match."""
    from bot.safety.detector import PATTERNS_FILE, PatternCompiler, PatternSet

    patterns = load_yaml(PATTERNS_FILE)
    every_child_pattern = PatternSet(
        detector.nlp, PatternCompiler(detector.nlp, patterns["macros"]), {f"c{i}": p for i, p in enumerate(patterns["child_patterns"])}
    )
    assert len(detector.child_keys) >= len(patterns["child_patterns"]) - 1
    texts = CASE_TEXTS + JOINED_TEXTS
    flagged = 0
    for text in texts:
        detection = detector.detect(text)
        if detection.is_crisis:
            doc, features = detector.tokenise(detector.normalise(text))
            assert detection.involves_child == bool(every_child_pattern(doc, features)), text
            flagged += detection.involves_child
    assert flagged >= 10
