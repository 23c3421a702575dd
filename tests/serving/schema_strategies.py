"""Hypothesis strategies for the JSON Schema subset that pydantic writes into an OpenAPI spec.

Small on purpose (arrays of at most a few items) so each generated body is scored quickly; the
aim is valid-by-schema bodies that reach the service's core, not exhaustive generation."""
from __future__ import annotations

from hypothesis import strategies as st

MAX_ITEMS = 3
DATES = st.sampled_from(["2024-01-01", "2025-06-30", "2024-02-29", "1999-12-31"])
TIMESTAMPS = st.sampled_from(["2024-01-01T10:00:00", "2025-03-02T23:59:59Z",
                              "2024-06-01T08:00:00+02:00"])
ANY_JSON = st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=8)


def from_schema(schema: dict, root: dict | None = None) -> st.SearchStrategy:
    root = root if root is not None else schema
    if "$ref" in schema:
        return st.deferred(lambda: from_schema(_resolve(root, schema["$ref"]), root))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(option, root) for option in schema[key]])
    if "allOf" in schema:
        return from_schema(schema["allOf"][0], root)
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, root) for k in kind])
    if kind == "object":
        return _object(schema, root)
    if kind == "array":
        items = from_schema(schema.get("items", {}), root)
        low = schema.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=max(low, min(schema.get("maxItems",
                                                                                MAX_ITEMS),
                                                                     MAX_ITEMS)))
    if kind == "string":
        if schema.get("format") == "date":
            return DATES
        if schema.get("format") == "date-time":
            return TIMESTAMPS
        return st.text(min_size=schema.get("minLength", 0), max_size=12)
    if kind == "integer":
        return st.integers(*_bounds(schema, 0, 10**7))
    if kind == "number":
        low, high = _bounds(schema, 0.0, 1e7)
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return ANY_JSON


def _resolve(root: dict, ref: str) -> dict:
    node = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _bounds(schema: dict, low, high):
    if "minimum" in schema:
        low = schema["minimum"]
    if "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + (1 if isinstance(low, int) else 1e-9)
    if "maximum" in schema:
        high = schema["maximum"]
    if "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - (1 if isinstance(high, int) else 1e-9)
    return low, max(low, high)


def _object(schema: dict, root: dict) -> st.SearchStrategy:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = {name: from_schema(sub, root) for name, sub in properties.items()
             if name in required}
    optional = {name: from_schema(sub, root) for name, sub in properties.items()
                if name not in required}
    return st.fixed_dictionaries(fixed, optional=optional)
