"""The operator page (/operator): figures from a store seeded through the project's own
tracker store (tests/operator_seed.py), checked against what was seeded, in a real browser
(Debian's Chromium through Playwright) and over HTTP."""

import csv
import io
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest
import yaml
from playwright.sync_api import expect

from bot.operator import store as operator_store
from bot.operator.figures import review_rows
from bot.operator.review import labelled_examples, nlu_yaml
from bot.paths import REPO_ROOT
from deploy.services import free_port, stop_processes, wait_for
from tests.operator_seed import seed

TOKEN = "operator-test-token"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seed(tmp_path_factory.mktemp("operator"), conversations=300)


@contextmanager
def page_server(seeded, token=TOKEN, review=False):
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "TRUST_REFERRAL_LOG": str(seeded.referral_log),
        "TRUST_REVIEW": "1" if review else "0",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    if token:
        env["TRUST_API_TOKEN"] = token
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.web.server", "--port", str(port), "--rasa-port", "1", "--endpoints", str(seeded.endpoints)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", seconds=120, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_processes([process])


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def bearer(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def review_off(seeded):
    with page_server(seeded, review=False) as url:
        yield url


@pytest.fixture(scope="module")
def review_on(seeded):
    with page_server(seeded, review=True) as url:
        yield url


# Who may see it


def test_without_a_token_set_the_page_is_off(seeded):
    with page_server(seeded, token=None) as url:
        for path in ("/operator", "/operator/figures.json", "/operator/daily.csv"):
            assert get(url + path, bearer())[0] == 404
        assert get(url + "/health")[0] == 200


@pytest.mark.parametrize("path", ["/operator", "/operator/figures.json", "/operator/daily.csv?days=7"])
def test_without_the_token_the_page_answers_401_with_a_form(review_off, path):
    for headers in ({}, bearer("wrong"), {"Cookie": "trust_operator=forged"}, {"Cookie": "\x00;;=bad"}):
        status, body, _ = get(review_off + path, headers)
        assert status == 401 and '<form method="post" action="/operator/sign-in">' in body
        assert "seeded" not in body
    status, body, _ = get(review_off + path.replace("?", "?token=wrong&") if "?" in path else review_off + path + "?token=wrong")
    assert status == 401 and "That token is not right" in body


def test_the_token_works_as_rasa_takes_it_and_as_a_bearer_header(review_off):
    assert get(review_off + "/operator/figures.json", bearer())[0] == 200
    assert get(review_off + f"/operator/figures.json?token={TOKEN}")[0] == 200


def test_with_review_off_no_message_text_appears_in_the_page_or_its_json(review_off, seeded):
    for path in ("/operator?days=90", "/operator/figures.json?days=90", "/operator/daily.csv?days=90"):
        status, body, _ = get(review_off + path, bearer())
        assert status == 200
        assert not any(turn.text in body for turn in seeded.turns if not turn.text.startswith("/")), path
        assert "seeded" not in body
    data = json.loads(get(review_off + "/operator/figures.json?days=90", bearer())[1])
    assert data["review"] and all("text" not in row for row in data["review"])


# What it shows


@pytest.mark.parametrize("days", [7, 30, 90])
def test_the_json_and_csv_totals_match_the_store(review_off, seeded, days):
    data = json.loads(get(review_off + f"/operator/figures.json?days={days}", bearer())[1])
    assert data["figures"]["totals"] == seeded.expected(days)
    assert len(data["figures"]["daily"]) == days
    status, body, headers = get(review_off + f"/operator/daily.csv?days={days}", bearer())
    assert status == 200 and headers["Content-Type"].startswith("text/csv") and "attachment" in headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == days
    expected = seeded.expected(days)
    for column, key in (
        ("conversations", "conversations"),
        ("messages", "messages"),
        ("fell_back", "fell_back"),
        ("referrals", "referrals"),
        ("check_ins", "check_ins"),
    ):
        assert sum(int(r[column]) for r in rows) == expected[key], column


def test_referrals_by_kind_country_and_channel_add_up(review_off, seeded):
    figures = json.loads(get(review_off + "/operator/figures.json?days=90", bearer())[1])["figures"]
    total = figures["totals"]["referrals"]
    assert total > 0
    assert sum(count for _, count in figures["referrals_by_country"]) == total
    assert sum(count for _, count in figures["referrals_by_channel"]) == total
    assert sum(sum(day["referrals"].values()) for day in figures["daily"]) == total
    assert figures["conversation_ends"] and figures["fell_back_by_guessed_intent"][0][0] in ("ask_rebuild", "ask_therapy")


def test_the_review_list_never_holds_a_crisis_or_check_in_turn(seeded, review_on):
    data = json.loads(get(review_on + "/operator/figures.json?days=90", bearer())[1])
    crisis_texts = {t.text for t in seeded.turns if t.outcome in ("crisis", "check_in")}
    assert crisis_texts and data["review"]
    assert all(row["outcome"] in ("fallback", "low_confidence") and row["text"] not in crisis_texts for row in data["review"])
    page = get(review_on + "/operator?days=90", bearer())[1]
    assert not any(text in page for text in crisis_texts)
    unsure = [t for t in seeded.turns if t.kind == "crisis_unsure"]
    assert unsure, "the seed has crisis turns the classifier fell back on"


# In a browser


def total(page, key):
    return int(page.locator(f'[data-total="{key}"]').inner_text())


def test_in_a_browser_sign_in_charts_periods_review_labels_and_deletion(browser, seeded, review_on, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    outside = []
    page.on("request", lambda request: outside.append(request.url) if "127.0.0.1" not in request.url else None)
    response = page.goto(review_on + "/operator")
    assert response.status == 401
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_label("Token").press("Enter")
    expect(page.get_by_role("heading", name="How the assistant is doing")).to_be_visible()
    expected = seeded.expected(30)
    for key, value in expected.items():
        assert total(page, key) == value, key
    assert page.locator('svg[role="img"]').count() >= 8
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone

    page.get_by_role("link", name="7 days").click()
    expect(page.get_by_role("link", name="7 days")).to_have_attribute("aria-current", "page")
    for key, value in seeded.expected(7).items():
        assert total(page, key) == value, key
    page.get_by_role("link", name="90 days").click()
    for key, value in seeded.expected(90).items():
        assert total(page, key) == value, key

    rows = page.locator("#review tbody tr[data-turn]")
    assert rows.count() > 0
    crisis_texts = [t.text for t in seeded.turns if t.outcome in ("crisis", "check_in")]
    review_text = page.locator("#review").inner_text()
    assert not any(text in review_text for text in crisis_texts)

    # Label the newest row by keyboard, then export it as an NLU candidate.
    first = rows.first
    turn_id = int(first.get_attribute("data-turn"))
    text = first.locator("td.text").inner_text()
    first.locator("select").select_option("ask_rebuild")
    first.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Label saved.")
    examples = labelled_examples(seeded.store().engine)
    assert text in examples["ask_rebuild"]
    exported = yaml.safe_load(nlu_yaml(examples))
    assert {"intent": "ask_rebuild", "examples": f"- {text}\n"} in exported["nlu"]

    # Deleting that conversation removes its rows from the list.
    sender = next(t.sender for t in seeded.turns if t.text == text)
    assert seeded.store().delete_sender(sender) > 0
    page.reload()
    assert page.locator(f'#review tr[data-turn="{turn_id}"]').count() == 0
    assert text not in page.content()
    context.close()
    assert not outside, outside


# Without a server


def test_a_turn_is_summarised_from_rasas_events():
    events = [
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": "i dunno, its complicated",
            "timestamp": 1000.5,
            "input_channel": "telegram",
            "parse_data": {
                "intent": {"name": "nlu_fallback", "confidence": 0.45},
                "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "ask_causes", "confidence": 0.3}],
            },
        },
        {"event": "action", "name": "utter_default"},
        {"event": "bot", "text": "I may have misunderstood you."},
        {"event": "action", "name": "action_listen"},
    ]
    turn = operator_store.latest_turn(events)
    assert (turn.at, turn.channel, turn.guessed_intent, turn.outcome, turn.reply) == (
        1000.5,
        "telegram",
        "ask_causes",
        "fallback",
        "utter_default",
    )
    assert operator_store.latest_turn(events[:1]) is None
    assert operator_store.outcome_of("ask_signs", 0.5, "/ask_signs", []) == "understood"  # a button
    assert operator_store.outcome_of("ask_signs", 0.5, "what r the signs", []) == "low_confidence"
    assert operator_store.outcome_of("nlu_fallback", 0.2, "x", ["action_crisis_referral"]) == "crisis"
    assert operator_store.outcome_of("greet", 0.9, "x", ["action_crisis_check_in"]) == "check_in"


def test_retention_removes_the_summaries_of_old_conversations(tmp_path):
    seeded = seed(tmp_path, conversations=40)
    store = seeded.store()
    senders, _ = store.delete_older_than(30)
    assert senders > 0
    engine = store.engine
    with engine.connect() as connection:
        oldest = connection.execute(operator_store.turns.select().order_by(operator_store.turns.c.at).limit(1)).first()
        remaining = {row.sender_id for row in connection.execute(operator_store.conversations.select())}
    assert oldest.at >= time.time() - 31 * 86400
    assert remaining == {t.sender for t in seeded.turns} - {
        t.sender for t in seeded.turns if max(u.at for u in seeded.turns if u.sender == t.sender) < time.time() - 30 * 86400
    }
    assert all(row["outcome"] != "crisis" for row in review_rows(engine, with_text=True))


def test_export_review_writes_labelled_rows_as_nlu_data_rasa_reads(tmp_path):
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.operator.figures import set_label
    from bot.operator.review import main as export_review

    seeded = seed(tmp_path, conversations=60)
    engine = seeded.store().engine
    rows = review_rows(engine, with_text=True)
    assert set_label(engine, rows[0]["id"], "ask_rebuild") and set_label(engine, rows[1]["id"], "ask_therapy")
    crisis = next(t for t in seeded.turns if t.outcome == "crisis")
    with engine.connect() as connection:
        crisis_id = (
            connection.execute(
                operator_store.turns.select().where(
                    operator_store.turns.c.sender_id == crisis.sender, operator_store.turns.c.at == crisis.at
                )
            )
            .first()
            .id
        )
    assert not set_label(engine, crisis_id, "ask_signs")  # not on the review list, so not labelled
    out = tmp_path / "candidates.yml"
    export_review(["--endpoints", str(seeded.endpoints), "--out", str(out)])
    data = load_data(str(out))
    assert {(m.get("intent"), m.get("text")) for m in data.intent_examples} == {
        ("ask_rebuild", rows[0]["text"]),
        ("ask_therapy", rows[1]["text"]),
    }
