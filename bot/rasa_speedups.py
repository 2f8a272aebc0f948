"""The one place where this project changes Rasa's internals: four speed fixes for the Rasa
server, each giving the same results as Rasa's own code (tests/test_rasa_speedups.py).

How they are switched on: `install()`, called by `python -m bot.rasa_cli` (Rasa's own command
line, with these installed first), which is how `make run`, the cluster, the benchmark and the
end-to-end tests start Rasa. Plain `rasa ...` never loads them. `install()` does nothing, and
says why in a warning, unless Rasa is exactly `PINNED_RASA_VERSION` (the private attributes
below are those of that release); `TRUST_RASA_SPEEDUPS=0` turns them off (a list such as
`ted,graph` installs only those, for measuring). `make test` runs the
story tests both ways. What each is worth, measured: docs/benchmarks.md.

1. `cached_validate` for `jsonschema.validate`. Rasa checks every action server response with
   `jsonschema.validate(result, spec)`, which with the jsonschema Rasa 3.6 resolves first
   re-checks the schema itself against its metaschema, on every call. The patch checks each
   distinct schema once and keeps its validator; the instance is validated by the same
   validator class, and the error raised is the same `best_match`.
2. `cached_resolve_by_type` for `Event.resolve_by_type`. Rasa finds an event's class from its
   type name by walking every subclass of `Event`, for every event read back from the tracker
   store. The patch remembers each name's class once Rasa's lookup has found it; unknown names
   still go through Rasa's lookup, with its default and its errors.
3. `build_dask_graph_deferring_ted` for `DaskGraphRunner._build_dask_graph`. Rasa runs every
   policy for every prediction, then its ensemble picks one. When a policy of higher priority
   than TEDPolicy is already certain (confidence 1.0, as a rule or a memorised story is),
   TED's prediction cannot be chosen: its scores are softmax scores, never above 1.0, and ties
   go to the higher priority. The patch runs TED after the other policies and only when its
   prediction could still be chosen (`ted_cannot_win`); otherwise TED abstains as it does
   without a model, which the ensemble treats exactly as a prediction it does not choose.
4. `run_in_fixed_order` for `DaskGraphRunner.run`, for a loaded model only. Rasa rebuilds,
   orders and schedules the model's graph through dask on every call. The patch runs the same
   nodes with the same inputs in a topological order worked out once per set of targets.
   Training and fingerprinting still go through dask.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Iterable

import jsonschema
import rasa
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphNode, GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected, Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

from bot.speedup_switch import PATCHES, PINNED_RASA_VERSION, SWITCH, chosen_patches, enabled  # noqa: F401 - re-exported

_original_validate = jsonschema.validate
_validators: dict[str, Any] = {}
_original_resolve_by_type = Event.resolve_by_type
_event_classes: dict[str, type[Event]] = {}
_original_build_dask_graph = DaskGraphRunner._build_dask_graph
_original_run = DaskGraphRunner.run
PREDICT_FN = "predict_action_probabilities"
logger = logging.getLogger(__name__)


def cached_validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
    """`jsonschema.validate`, with the schema check and validator built once per schema."""
    if cls is not None or args or kwargs:
        return _original_validate(instance, schema, cls, *args, **kwargs)
    key = json.dumps(schema, sort_keys=True, default=str)
    validator = _validators.get(key)
    if validator is None:
        validator_class = validator_for(schema)
        validator_class.check_schema(schema)
        validator = _validators.setdefault(key, validator_class(schema))
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def cached_resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """`Event.resolve_by_type`, remembering each type name's class."""
    found = _event_classes.get(type_name)
    if found is not None:
        return found
    found = _original_resolve_by_type(type_name, default)
    if found is not None and found is not default and found.type_name == type_name:
        _event_classes[type_name] = found
    return found


def _last_action_rejected(tracker: DialogueStateTracker) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, (ActionExecuted, ActionExecutionRejected)):
            return isinstance(event, ActionExecutionRejected)
    return False


def ted_cannot_win(others: Iterable[PolicyPrediction], tracker: DialogueStateTracker, ted_priority: int) -> bool:
    """Whether Rasa's ensemble would not choose TED's prediction, whatever it is, given the
    other policies' predictions (TED trained without end-to-end text, so its prediction is
    never end-to-end nor "no user").

    The ensemble sets a rejected action's confidence to 0 first: then nothing is settled.
    """
    if _last_action_rejected(tracker):
        return False
    return any(
        prediction.is_no_user_prediction or (prediction.max_confidence >= 1.0 and prediction.policy_priority > ted_priority)
        for prediction in others
    )


class DeferredTEDNode:
    """A TEDPolicy graph node (`_deferrable`) run after the other policies, and only when needed."""

    def __init__(self, node: GraphNode, others: list[str]) -> None:
        self.node = node
        self.others = others
        self.skipped = 0

    def __call__(self, *inputs: Any) -> tuple[str, Any]:
        received = dict(item for item in inputs if isinstance(item, tuple))
        policy = self.node._component
        tracker = received.get(self.node._inputs.get("tracker", ""))
        domain = received.get(self.node._inputs.get("domain", ""))
        others = [received.get(name) for name in self.others]
        if (
            tracker is not None
            and domain is not None
            and all(isinstance(other, PolicyPrediction) for other in others)
            and ted_cannot_win(others, tracker, policy.priority)
        ):
            self.skipped += 1
            return self.node._node_name, policy._prediction(policy._default_predictions(domain))
        return self.node(*inputs)


def _deferrable(node: GraphNode) -> bool:
    policy = node._component
    # Exactly TEDPolicy: subclasses (UnexpecTEDIntentPolicy among them) may add events.
    return type(policy) is TEDPolicy and TEXT not in policy.fake_features


def build_dask_graph_deferring_ted(runner: DaskGraphRunner, schema: GraphSchema) -> dict[str, Any]:
    """Rasa's dask graph, with each TEDPolicy node made to wait for the other policies
    feeding the same ensemble and to run only if its prediction could be chosen."""
    graph = _original_build_dask_graph(runner, schema)
    for schema_node in schema.nodes.values():
        if not issubclass(schema_node.uses, DefaultPolicyPredictionEnsemble):
            continue
        policies = [name for name in schema_node.needs.values() if name in schema.nodes and schema.nodes[name].fn == PREDICT_FN]
        deferred = [name for name in policies if _deferrable(runner._instantiated_nodes[name])]
        others = [name for name in policies if name not in deferred]
        if not others:
            continue
        for name in deferred:
            node, *needs = graph[name]
            graph[name] = (DeferredTEDNode(node, others), *needs, *others)
    return graph


def execution_order(graph: dict[str, Any]) -> list[tuple[str, Any, tuple[str, ...]]]:
    """(name, callable, inputs) of each task of a dask graph, every task after its inputs."""
    order: list[tuple[str, Any, tuple[str, ...]]] = []
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done or name not in graph:
            return
        if name in path:
            raise GraphRunError(f"The graph has a cycle through '{name}'.")
        task, *needs = graph[name]
        for need in needs:
            visit(need, (*path, name))
        done.add(name)
        order.append((name, task, tuple(needs)))

    for name in graph:
        visit(name, ())
    return order


def run_in_fixed_order(runner: DaskGraphRunner, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> dict[str, Any]:
    """`DaskGraphRunner.run` for a loaded model: same nodes, same inputs, same result, without
    dask's per-call scheduling. Training and fingerprinting graphs still go through dask."""
    if runner._execution_context.model_id is None:
        return _original_run(runner, inputs, targets)
    run_targets = targets if targets else runner._graph_schema.target_names
    plans = runner.__dict__.setdefault("_fixed_order_plans", {})
    # The graph builder is part of the key: the tests swap it to compare with Rasa's own.
    key = (tuple(run_targets), DaskGraphRunner._build_dask_graph)
    plan = plans.get(key)
    if plan is None:
        graph = runner._build_dask_graph(runner._graph_schema.minimal_graph_schema(run_targets))
        plan = plans[key] = (execution_order(graph), frozenset(graph))
    order, names = plan
    results: dict[str, Any] = {}
    for input_name, input_value in (inputs or {}).items():
        if isinstance(input_value, str) and input_value in names:
            raise GraphRunError(f"Input value '{input_value}' clashes with a node name.")
        results[input_name] = (input_name, input_value)
    try:
        for name, task, needs in order:
            results[name] = task(*(results.get(need, need) for need in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(results[target] for target in run_targets)


def install() -> bool:
    """Installs the chosen patches (all by default); returns whether any is installed."""
    chosen = chosen_patches()
    if not chosen:
        logger.info("Rasa speedups off (%s=0): Rasa runs as shipped.", SWITCH)
        return False
    if rasa.__version__ != PINNED_RASA_VERSION:
        logger.warning(
            "Rasa %s is not %s, the release bot/rasa_speedups.py was written for: Rasa runs as shipped.",
            rasa.__version__,
            PINNED_RASA_VERSION,
        )
        return False
    if "validate" in chosen:
        jsonschema.validate = cached_validate
    if "events" in chosen:
        Event.resolve_by_type = staticmethod(cached_resolve_by_type)  # type: ignore[method-assign]
    if "ted" in chosen:
        DaskGraphRunner._build_dask_graph = build_dask_graph_deferring_ted  # type: ignore[method-assign]
    if "graph" in chosen:
        DaskGraphRunner.run = run_in_fixed_order  # type: ignore[method-assign]
    return True


def uninstall() -> None:
    """Puts Rasa's own functions back."""
    jsonschema.validate = _original_validate
    Event.resolve_by_type = staticmethod(_original_resolve_by_type)  # type: ignore[method-assign]
    DaskGraphRunner._build_dask_graph = _original_build_dask_graph  # type: ignore[method-assign]
    DaskGraphRunner.run = _original_run  # type: ignore[method-assign]
