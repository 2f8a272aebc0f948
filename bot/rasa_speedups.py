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
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.shared.core.events import Event

_original_validate = jsonschema.validate
_validators: dict[str, Any] = {}
_original_resolve_by_type = Event.resolve_by_type
_event_classes: dict[str, type[Event]] = {}


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


def install() -> None:
    jsonschema.validate = cached_validate
    Event.resolve_by_type = staticmethod(cached_resolve_by_type)  # type: ignore[method-assign]
