"""The model's arguments for a tool: untrusted JSON text, parsed with bounds and validated
against the tool's schema before anything runs."""

from __future__ import annotations

from typing import Any

import msgspec

MAX_ARGUMENTS_CHARS = 4096
"""Arguments longer than this are refused unread (a model looping in its JSON)."""


class ArgumentError(ValueError):
    """The arguments are not JSON, not an object, or against the schema; the message says why
    in a few words (it is fed back to the model and kept in the record)."""


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ``ValueError`` for a schema that is not valid JSON Schema or not an object schema
    (at start-up, so a typo in config.toml stops it with the key named)."""
    import jsonschema  # only when tools are declared

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ValueError(f"not a valid JSON schema: {error.message}") from None
    if schema.get("type") != "object":
        raise ValueError('the parameters schema must be {"type": "object", ...}')


def parse_arguments(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The arguments as a dict, or :class:`ArgumentError`."""
    import jsonschema

    if len(text) > MAX_ARGUMENTS_CHARS:
        raise ArgumentError(f"arguments over {MAX_ARGUMENTS_CHARS} characters")
    try:
        value = msgspec.json.decode(text.strip() or "{}")
    except msgspec.DecodeError:
        raise ArgumentError("arguments are not JSON") from None
    if not isinstance(value, dict):
        raise ArgumentError("arguments are not a JSON object")
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "arguments"
        raise ArgumentError(f"{where}: {error.message[:200]}")
    return value
