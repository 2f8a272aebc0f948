"""Speed fixes for Rasa 3.6 inside the Rasa server, installed when bot.nlu.components loads.

Rasa checks every action server response with `jsonschema.validate(result, spec)`. With the
jsonschema 4.17 that Rasa 3.6 resolves, `validate` first re-checks the *schema* against the
2020-12 metaschema on every call: 30-70 ms per custom action, more than the rest of the turn.
`install()` replaces `jsonschema.validate` with one that checks each distinct schema once and
then reuses its validator. Results and errors are the same as jsonschema's own `validate`.

Rasa also finds an event's class from its type name by walking every subclass of `Event`
(~0.1 ms each) for every event it reads back from the tracker store: 2-4 ms a turn in a
longer conversation. `install()` remembers each name's class once found; unknown names go
through Rasa's own lookup and its errors.

Rasa runs every policy for every prediction, then its ensemble picks one. When a policy of
higher priority than TEDPolicy is already certain (confidence 1.0, as a rule or a memorised
story is), TED's prediction cannot be chosen: its confidences are softmax scores, never above
1.0, and ties go to the higher priority. `install()` makes the prediction graph run TED after
the other policies and only when its prediction could still be chosen (`ted_cannot_win`);
otherwise TED abstains, as it does without a model. In this assistant, rules decide nearly
every turn: TED was ~30% of a turn's time.

A loaded model's graph (NLU once a message, prediction twice or more) runs through dask,
which rebuilds the graph, orders it and schedules it on every call: ~1 ms each. `install()`
runs a model's graph in a topological order worked out once per set of targets, calling
the same nodes with the same inputs; training keeps dask.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import jsonschema
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

_original_validate = jsonschema.validate
_validators: dict[str, Any] = {}
_original_resolve_by_type = Event.resolve_by_type
_event_classes: dict[str, type[Event]] = {}
_original_build_dask_graph = DaskGraphRunner._build_dask_graph
_original_run = DaskGraphRunner.run
PREDICT_FN = "predict_action_probabilities"


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


def install() -> None:
    jsonschema.validate = cached_validate
    Event.resolve_by_type = staticmethod(cached_resolve_by_type)  # type: ignore[method-assign]
    DaskGraphRunner._build_dask_graph = build_dask_graph_deferring_ted  # type: ignore[method-assign]
    DaskGraphRunner.run = run_in_fixed_order  # type: ignore[method-assign]
