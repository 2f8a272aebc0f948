"""Schema and completeness of the knowledge files, and their agreement with domain.yml."""

import yaml

from bot import knowledge
from bot.paths import REPO_ROOT


def test_every_relationship_kind_has_signs_a_label_and_a_reflection():
    data = knowledge.trust()
    assert set(data["relationship_kinds"]) == set(knowledge.RELATIONSHIP_KINDS)
    for kind in knowledge.RELATIONSHIP_KINDS:
        assert data["relationship_kinds"][kind]["label"]
        assert len(data["signs"][kind]) >= 3
        assert data["relationship_kinds"][kind]["short"] in knowledge.reflection("mine", kind, None)
    assert len(data["signs"]["general"]) >= 5
    for group in data["signs"].values():
        for sign in group:
            assert set(sign) == {"id", "title", "text"} and sign["text"].strip()


def test_about_section_covers_caution_paranoia_and_not_a_diagnosis():
    about = knowledge.trust()["about"]
    for key in ("definition", "versus_caution", "versus_paranoia", "not_a_diagnosis"):
        assert len(about[key]) > 60


def test_causes_cover_the_required_topics():
    causes = {c["id"]: c for c in knowledge.trust()["causes"]}
    for needed in ("childhood", "betrayal", "repeated_letdowns", "skepticism", "attachment_style", "low_self_esteem", "mental_health"):
        assert needed in causes
    conditions = causes["mental_health"]["text"].lower()
    for condition in ("attachment", "anxiety", "depression", "ptsd", "borderline", "paranoid"):
        assert condition in conditions
    assert "does not mean" in conditions  # never phrased as a diagnosis


def test_every_modality_has_what_session_suits_and_fits():
    modalities = knowledge.trust()["therapy"]["modalities"]
    assert set(modalities) == {"online", "individual", "group", "couples", "cbt", "emdr", "trauma_focused"}
    for modality in modalities.values():
        for key in ("name", "what", "session", "suits"):
            assert modality[key].strip()
        assert modality["fits"]


def test_rebuilding_steps_are_grouped():
    groups = knowledge.trust()["rebuilding"]["groups"]
    assert len(groups) >= 3
    assert sum(len(g["steps"]) for g in groups) >= 10


def test_self_check_has_8_to_10_items_drawn_from_the_signs_asked_by_one_form_slot():
    items = knowledge.self_check_items()
    assert 8 <= len(items) <= 10
    assert len({item["id"] for item in items}) == len(items)
    sign_ids = {s["id"] for group in knowledge.trust()["signs"].values() for s in group}
    causes = {c["kind"] for c in knowledge.trust()["causes"]} | set(knowledge.trust()["therapy"]["reasons"])
    for item in items:
        assert item["sign"] in sign_ids and item["statement"].endswith(".")
        assert item["tags"] and set(item["tags"]) <= causes, item["id"]
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text())
    assert domain["forms"]["self_check_form"]["required_slots"] == ["sc_answer"]
    assert {"action_ask_sc_answer", "validate_self_check_form"} <= set(domain["actions"])
    assert "{count}" in knowledge.self_check()["intro"] and str(len(items)) in knowledge.self_check_intro()


def test_phrases_buttons_and_reasons_are_well_formed():
    data = knowledge.trust()
    assert all(isinstance(text, str) and text.strip() for text in data["phrases"].values())
    for name in data["buttons"]:
        for button in knowledge.buttons(name):
            assert set(button) == {"title", "payload"} and button["payload"].startswith("/")
    fits = {fit for modality in data["therapy"]["modalities"].values() for fit in modality["fits"]}
    assert fits <= set(data["therapy"]["reasons"]) | {"starting_out"}
    assert knowledge.phrase("signs_in_relationship", short="your family").endswith("your family:")


def _sentences_in(path):
    """String constants that read as English words (four or more), outside docstrings, log
    calls, raised exceptions and API error bodies."""
    import ast
    import re

    words = re.compile(r"^[A-Za-z][A-Za-z'’,;:.!? ()-]*$")
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                skipped.add(id(body[0].value))
        name = ""
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        logging_or_errors = name in {"debug", "info", "warning", "error", "exception"} or name.endswith(("Error", "Exception"))
        api_error = isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "error" for k in node.keys)
        if logging_or_errors or api_error or name == "_error" or isinstance(node, ast.Raise):
            skipped.update(id(sub) for sub in ast.walk(node))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
        and words.match(node.value.strip())
        and len(node.value.split()) >= 4
    ]


def test_no_sentence_a_person_reads_is_written_in_python():
    """Replies come from domain responses or bot/knowledge/*.yml (and the safety and channel
    YAML files), never from the actions or the code that builds replies."""
    files = [
        *(REPO_ROOT / "actions").glob("*.py"),
        REPO_ROOT / "bot" / "knowledge.py",
        REPO_ROOT / "bot" / "dialogue.py",
        *(REPO_ROOT / "bot" / "channels").glob("*.py"),
        *(REPO_ROOT / "bot" / "safety").glob("referral*.py"),
        REPO_ROOT / "bot" / "safety" / "check_in.py",
        REPO_ROOT / "bot" / "nlu" / "components.py",
    ]
    found = {str(path.relative_to(REPO_ROOT)): _sentences_in(path) for path in files}
    assert {path: texts for path, texts in found.items() if texts} == {}
    planted = REPO_ROOT / "results" / "planted_sentence.py"
    planted.parent.mkdir(exist_ok=True)
    planted.write_text('REPLY = "Which relationship is on your mind?"\n')
    assert _sentences_in(planted) == ["Which relationship is on your mind?"]  # the check does catch one
    planted.unlink()


def whole_topic(topic, relationship=None, causes=()):
    """Every page of a topic, following "Tell me more" to the end."""
    pages, index = [], 0
    while True:
        page = knowledge.topic_page(topic, index, relationship, causes)
        pages.append(page)
        if page.next_page is None:
            return pages
        assert knowledge.parse_page_marker(page.next_page) == (topic, index + 1)
        index += 1


def test_signs_are_tailored_to_the_relationship():
    romantic = whole_topic("signs", "romantic")
    work = "\n".join(b for page in whole_topic("signs", "work") for b in page.bubbles)
    assert "Checking up on your partner" in romantic[0].bubbles[0] and "Checking up on your partner" not in work
    assert "Struggling to hand work over" in work
    assert "Doubting even the people closest to you" in knowledge.topic_page("signs").bubbles[0]


def test_long_answers_come_a_little_at_a_time_and_lose_nothing():
    """A turn is at most two bubbles of content of about 60 words and one question; "Tell me
    more" walks through the rest, and every paragraph of the topic is given exactly once."""
    for topic in knowledge.TOPICS:
        for relationship in (None, *knowledge.RELATIONSHIP_KINDS):
            pages = whole_topic(topic, relationship)
            shown = "\n".join(b for page in pages for b in page.bubbles)
            for item in knowledge.topic_items(topic, relationship):
                assert shown.count(item) == 1, (topic, item)
            for page in pages:
                assert 1 <= len(page.bubbles) <= knowledge.PAGE_BUBBLES and page.question.endswith("?")
                assert all(len(b.split()) <= 90 and "\n\n" not in b for b in page.bubbles), topic
                assert 1 <= len(page.buttons) <= 3
            assert all(p.buttons[0]["payload"].startswith("/tell_more") for p in pages[:-1])
            assert not any(b["payload"].startswith("/tell_more") for b in pages[-1].buttons)
    assert knowledge.topic_page("causes", 99).next_page is None  # past the end: the last page
    assert knowledge.parse_page_marker("nonsense:1") is None and knowledge.parse_page_marker("causes:x") is None


def test_causes_the_person_named_come_first():
    first = knowledge.topic_page("causes", 0, causes=["attachment_style"]).bubbles[0]
    assert "Attachment style" in first and "Childhood experiences" not in first


def test_reflection_says_back_who_and_what_in_the_persons_words():
    assert knowledge.reflection("mine", "romantic", "bf", ["betrayal"]) == (
        "It sounds like trusting your bf has become really hard, after being lied to or cheated on."
    )
    assert "your family" in knowledge.reflection("mine", "family", None)
    assert "your husband is finding it hard to trust you" in knowledge.reflection("distrusted", "romantic", "husband", ["betrayal"])
    assert "worried" in knowledge.reflection("someone_else", None, None)
    for whose in knowledge.REFLECTION_WHOSE:
        question, buttons = knowledge.reflection_question(whose)
        assert question.endswith("?") and 2 <= len(buttons) <= 3


def test_therapy_suggestions_follow_what_the_person_said():
    at_home = knowledge.suggest_therapies("romantic", ["anxiety"], in_person_hard=True)
    assert at_home[0].modality == "online"
    assert len(at_home) == 3
    trauma = knowledge.suggest_therapies("family", ["childhood", "trauma"], in_person_hard=False)
    assert trauma[0].modality == "trauma_focused"
    text = "\n".join(knowledge.suggestion_text(trauma))
    assert "licensed therapist" in text and "professional" in text


def test_self_check_reflection_is_gentle_and_never_a_diagnosis():
    count = len(knowledge.self_check_items())
    none = knowledge.self_check_reflection([False] * count)
    some = knowledge.self_check_reflection([True, False])
    many = knowledge.self_check_reflection([True] * count)
    assert "didn't recognise" in none
    assert "not a diagnosis" in some and knowledge.self_check_items()[0]["statement"] in some
    assert "therapist" in many
    for text in (none, some, many):
        assert "you have trust issues" not in text.lower()
