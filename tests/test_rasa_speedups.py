"""The speed fixes in bot/rasa_speedups.py give Rasa's own results."""

import asyncio
import copy
import random
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses

from bot import rasa_speedups
from bot.tracker_store import PrivateSQLTrackerStore

SPEC = RemoteAction.action_response_format_spec()
GOOD = {
    "events": [{"event": "slot", "name": "relationship", "value": "romantic"}],
    "responses": [{"text": "hi", "buttons": [{"title": "a", "payload": "/a"}]}],
}
BAD = [
    {"events": "not a list"},
    {"events": [{"no_event_key": 1}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "timestamp": "yesterday"}]},
]


def test_cached_validation_accepts_and_refuses_what_jsonschema_does():
    rasa_speedups.cached_validate(GOOD, SPEC)
    for result in BAD:
        with pytest.raises(jsonschema.ValidationError) as ours:
            rasa_speedups.cached_validate(result, SPEC)
        with pytest.raises(jsonschema.ValidationError) as theirs:
            rasa_speedups._original_validate(result, SPEC)
        assert ours.value.message == theirs.value.message
    with pytest.raises(jsonschema.SchemaError):
        rasa_speedups.cached_validate({}, {"type": "no such type"})


def test_event_classes_resolve_as_rasa_resolves_them():
    rasa_speedups.install()
    for cls in all_subclasses(Event):
        if getattr(cls, "type_name", None):
            assert Event.resolve_by_type(cls.type_name) is rasa_speedups._original_resolve_by_type(cls.type_name)
            assert Event.resolve_by_type(cls.type_name) is rasa_speedups._original_resolve_by_type(cls.type_name)
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")
    assert isinstance(Event.from_parameters({"event": "user", "text": "hi", "parse_data": {}}), UserUttered)


def test_sqlite_store_keeps_its_connections_in_wal_mode(tmp_path):
    store = PrivateSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "t.db"))
    assert isinstance(store.engine.pool, sa.pool.QueuePool)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def _random_prediction(rng, size: int, name: str, priority: int, ted: bool = False) -> PolicyPrediction:
    shape = rng.choice(["none", "certain", "fallback", "spread"])
    probabilities = [0.0] * size
    if shape == "certain":
        probabilities[rng.randrange(size)] = 1.0
    elif shape == "fallback":
        probabilities[rng.randrange(size)] = 0.3
    elif shape == "spread":
        weights = [rng.random() ** 4 for _ in range(size)]
        probabilities = [w / sum(weights) for w in weights]
    events = [] if ted or rng.random() < 0.7 else [SlotSet("relationship", "family")]
    optional = [SlotSet("country", "GB")] if rng.random() < 0.3 else []
    return PolicyPrediction(
        probabilities,
        name,
        priority,
        events=events,
        optional_events=optional,
        is_end_to_end_prediction=not ted and rng.random() < 0.1,
        is_no_user_prediction=not ted and rng.random() < 0.1,
    )


def test_deferred_ted_never_changes_what_the_ensemble_picks():
    """Wherever `ted_cannot_win` says so, Rasa's ensemble picks the same prediction whether
    TED predicted anything or abstained (20,000 random cases, TED's scores included)."""
    rng = random.Random(7)
    domain = Domain.from_dict({"intents": ["greet"], "actions": [f"action_{i}" for i in range(6)]})
    size = len(domain.action_names_or_texts)
    ensemble = DefaultPolicyPredictionEnsemble()
    settled = 0
    for _ in range(20_000):
        last = rng.choice([ActionExecuted("action_1"), ActionExecutionRejected("action_2"), ActionExecuted("action_listen")])
        tracker = DialogueStateTracker.from_events("s", [ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet"}), last])
        ted_priority = rng.choice([1, 1, 1, 4])
        others = [_random_prediction(rng, size, "MemoizationPolicy", 3), _random_prediction(rng, size, "RulePolicy", 6)]
        ted = _random_prediction(rng, size, "TEDPolicy", ted_priority, ted=True)
        if not rasa_speedups.ted_cannot_win(others, tracker, ted_priority):
            continue
        settled += 1
        abstained = PolicyPrediction([0.0] * size, "TEDPolicy", ted_priority)
        with_ted = ensemble.combine_predictions(copy.deepcopy(others) + [ted], tracker, domain)
        without_ted = ensemble.combine_predictions(copy.deepcopy(others) + [abstained], tracker, domain)
        assert with_ted == without_ted
    assert settled > 5_000


def _random_tracker(rng: random.Random, domain: Domain, number: int) -> DialogueStateTracker:
    """A conversation of random intents and actions: many states no rule or story covers."""
    actions = [name for name in domain.action_names_or_texts if name != "..."]
    events: list[Event] = [ActionExecuted("action_listen")]
    for _ in range(rng.randint(1, 5)):
        intent = rng.choice(domain.intents)
        events.append(UserUttered(f"/{intent}", {"name": intent, "confidence": 1.0}))
        if rng.random() < 0.3:
            events.append(SlotSet("relationship", rng.choice(["romantic", "friendship", "family", "work"])))
        for _ in range(rng.randint(0, 2)):
            events.append(ActionExecuted(rng.choice(actions)))
        if rng.random() < 0.2:
            events.append(ActionExecutionRejected(rng.choice(actions)))
        if rng.random() < 0.8:
            events.append(ActionExecuted("action_listen"))
    return DialogueStateTracker.from_events(f"random-{number}", events, domain.slots)


def test_trained_assistant_parses_and_predicts_as_rasa_does(monkeypatch):
    """The trained assistant, with TED deferred and its graph run in a fixed order, parses
    every labelled crisis case and the load scripts' messages (intent, ranking, entities) and
    predicts for 300 random conversations (scores, policy, confidence) exactly as with Rasa
    running every policy through dask. Both TED paths are taken (skipped, and run where no
    rule is certain); that TED's own prediction wins when it is best is shown with random
    scores in the test above."""
    from rasa.core.agent import load_agent

    from bench.loadgen import SCRIPTS
    from bot.paths import REPO_ROOT
    from bot.yaml_data import load_yaml

    rasa_speedups.install()
    agent = asyncio.run(load_agent(model_path=str(REPO_ROOT / "models" / "trust.tar.gz")))
    rng = random.Random(11)
    trackers = [_random_tracker(rng, agent.domain, number) for number in range(300)]
    cases = load_yaml(REPO_ROOT / "tests" / "data" / "crisis_cases.yml")
    texts = [text for script in SCRIPTS for text in script]
    texts += [text for abouts in cases["disclosures"].values() for group in abouts.values() for text in group]
    texts += [text for group in cases["negatives"].values() for text in group]

    def results() -> tuple[list, list]:
        parses = [asyncio.run(agent.parse_message(text)) for text in texts]
        predictions = []
        for tracker in trackers:
            prediction = agent.processor.predict_next_with_tracker(copy.deepcopy(tracker))
            predictions.append((prediction["scores"], prediction["policy"], prediction["confidence"]))
        return parses, predictions

    skipped: list[int] = []
    original_call = rasa_speedups.DeferredTEDNode.__call__

    def counting_call(node: rasa_speedups.DeferredTEDNode, *inputs: Any) -> Any:
        before = node.skipped
        output = original_call(node, *inputs)
        skipped.append(node.skipped - before)
        return output

    monkeypatch.setattr(rasa_speedups.DeferredTEDNode, "__call__", counting_call)
    ours = results()
    monkeypatch.setattr(DaskGraphRunner, "_build_dask_graph", rasa_speedups._original_build_dask_graph)
    monkeypatch.setattr(DaskGraphRunner, "run", rasa_speedups._original_run)
    rasas = results()
    assert ours[0] == rasas[0]
    assert ours[1] == rasas[1]
    print(f"\nTED skipped for {sum(skipped)} of {len(skipped)} random conversations")
    assert len(skipped) == len(trackers)
    assert 0 < sum(skipped) < len(skipped)


def test_fixed_order_runs_every_task_after_its_inputs():
    graph = {"c": (len, "a", "b"), "a": (len, "__input__"), "b": (len, "a"), "d": (len, "c")}
    order = [name for name, _, _ in rasa_speedups.execution_order(graph)]
    assert sorted(order) == ["a", "b", "c", "d"]
    assert order.index("a") < order.index("b") < order.index("c") < order.index("d")
    with pytest.raises(GraphRunError):
        rasa_speedups.execution_order({"a": (len, "b"), "b": (len, "a")})


def test_installed_only_on_the_pinned_rasa_and_never_when_switched_off(monkeypatch, caplog):
    import rasa

    rasa_speedups.uninstall()
    monkeypatch.setenv("TRUST_RASA_SPEEDUPS", "0")
    assert not rasa_speedups.install() and not rasa_speedups.enabled()
    assert jsonschema.validate is rasa_speedups._original_validate
    monkeypatch.delenv("TRUST_RASA_SPEEDUPS")
    monkeypatch.setattr(rasa, "__version__", "3.6.22")
    assert not rasa_speedups.install() and not rasa_speedups.enabled()
    assert "is not 3.6.21" in caplog.text and DaskGraphRunner.run is rasa_speedups._original_run
    monkeypatch.setattr(rasa, "__version__", rasa_speedups.PINNED_RASA_VERSION)
    assert rasa_speedups.install() and rasa_speedups.enabled()
    assert jsonschema.validate is rasa_speedups.cached_validate and DaskGraphRunner.run is rasa_speedups.run_in_fixed_order
    rasa_speedups.uninstall()
    assert DaskGraphRunner._build_dask_graph is rasa_speedups._original_build_dask_graph


def test_the_tracker_store_reads_and_saves_the_same_way_with_its_shortcuts_off(monkeypatch, tmp_path):
    from rasa.shared.core.events import BotUttered

    for switch in ("1", "0"):
        monkeypatch.setenv("TRUST_RASA_SPEEDUPS", switch)
        store = PrivateSQLTrackerStore(dialect="sqlite", db=str(tmp_path / f"store-{switch}.db"))
        assert store._shortcuts is (switch == "1")
        tracker = DialogueStateTracker.from_events("s", [ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet"})])
        asyncio.run(store.save(tracker))
        tracker.update(BotUttered("hello"))
        asyncio.run(store.save(tracker))
        assert store.count_events("s") == 3


def test_the_project_starts_rasa_through_its_own_command_line(tmp_path):
    import subprocess
    import sys

    from bot.paths import REPO_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "bot.rasa_cli", "--version"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
        timeout=300,
    )
    assert result.returncode == 0 and "Rasa Version" in result.stdout and "3.6.21" in result.stdout
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "-m bot.rasa_cli" in makefile and "bot.rasa_cli" in (REPO_ROOT / "deploy" / "services.py").read_text()


def test_the_switch_chooses_all_none_or_some_patches(monkeypatch):
    for value, expected in [("1", rasa_speedups.PATCHES), ("0", ()), ("ted, graph", ("ted", "graph")), ("nonsense", ())]:
        monkeypatch.setenv("TRUST_RASA_SPEEDUPS", value)
        assert rasa_speedups.chosen_patches() == expected, value
    monkeypatch.delenv("TRUST_RASA_SPEEDUPS")
    assert rasa_speedups.chosen_patches() == rasa_speedups.PATCHES
    monkeypatch.setenv("TRUST_RASA_SPEEDUPS", "graph")
    rasa_speedups.uninstall()
    assert rasa_speedups.install()
    assert DaskGraphRunner.run is rasa_speedups.run_in_fixed_order and jsonschema.validate is rasa_speedups._original_validate
    rasa_speedups.uninstall()
