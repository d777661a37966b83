"""Backward-compatibility check between two JSON Schemas of one event type (DESIGN.md, Events: Schemas).

A change is breaking when a reader built for one schema can no longer read an event written for the other:
a property removed, a property whose type changed (nested models and `$ref`s are followed), a property that
became required, or an enum value removed. Such a change needs a new `vN+1` event type beside the old one.
Adding an optional property, or a new value to an enum, is compatible: readers are tolerant.
"""

from collections.abc import Iterator
from typing import Any

JsonSchema = dict[str, Any]

_COMBINATORS = ("anyOf", "oneOf")


def breaking_changes(old_schema: JsonSchema, new_schema: JsonSchema) -> list[str]:
    """Every backward-incompatible difference from `old_schema` to `new_schema`, one sentence each."""
    return list(_Comparison(old_schema, new_schema).differences(old_schema, new_schema, ""))


class _Comparison:
    """Walks two schemas side by side; each keeps its own root, against which its `$ref`s resolve."""

    def __init__(self, old_root: JsonSchema, new_root: JsonSchema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.following: set[tuple[str | None, str | None]] = set()

    def differences(self, old: JsonSchema, new: JsonSchema, path: str) -> Iterator[str]:
        old_variants = _variants(_resolve(old, self.old_root), self.old_root)
        new_variants = _variants(_resolve(new, self.new_root), self.new_root)
        refs = (old.get("$ref"), new.get("$ref"))
        if refs[0] is None or refs[1] is None:
            yield from self._compare(old_variants, new_variants, path)
        elif refs not in self.following:
            self.following.add(refs)
            yield from self._compare(old_variants, new_variants, path)
            self.following.discard(refs)

    def _compare(self, old: list[JsonSchema], new: list[JsonSchema], path: str) -> Iterator[str]:
        where = path or "the payload"
        old_types = set().union(*(_type_labels(variant) for variant in old))
        new_types = set().union(*(_type_labels(variant) for variant in new))
        if old_types != new_types:
            yield f"{where}: type changed from {_show(old_types)} to {_show(new_types)}"
            return
        removed_values = _enum_values(old) - _enum_values(new)
        if removed_values and _enum_values(new):
            yield f"{where}: enum value(s) removed: {_show(removed_values)}"
        old_object, new_object = _first(old, "object"), _first(new, "object")
        if old_object is not None and new_object is not None:
            yield from self._compare_objects(old_object, new_object, path)
        old_array, new_array = _first(old, "array"), _first(new, "array")
        if old_array is not None and new_array is not None:
            old_items, new_items = old_array.get("items", {}), new_array.get("items", {})
            yield from self.differences(old_items, new_items, f"{path}[]")

    def _compare_objects(self, old: JsonSchema, new: JsonSchema, path: str) -> Iterator[str]:
        old_properties: JsonSchema = old.get("properties", {})
        new_properties: JsonSchema = new.get("properties", {})
        for name, old_property in old_properties.items():
            where = f"{path}.{name}" if path else name
            if name not in new_properties:
                yield f"{where}: property removed"
            else:
                yield from self.differences(old_property, new_properties[name], where)
        newly_required = set(new.get("required", ())) - set(old.get("required", ()))
        for name in sorted(newly_required):
            where = f"{path}.{name}" if path else name
            if name in old_properties:
                yield f"{where}: optional property became required"
            else:
                yield f"{where}: new required property"
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            yield from self.differences(old_extra, new_extra, f"{path}{{*}}")


def _resolve(node: JsonSchema, root: JsonSchema) -> JsonSchema:
    """Follow local `$ref`s (`#/$defs/Mandate`); keywords beside a `$ref` override the target's."""
    for _ in range(64):
        if "$ref" not in node:
            return node
        reference = node["$ref"]
        if not reference.startswith("#/"):
            raise ValueError(f"only local references are supported, got {reference!r}")
        target: Any = root
        for token in reference[2:].split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    raise ValueError("reference chain too long or cyclic")


def _variants(node: JsonSchema, root: JsonSchema) -> list[JsonSchema]:
    """The alternatives a value may take: `X | None` is `[X, null]`; a one-item `allOf` is its item."""
    for combinator in _COMBINATORS:
        if combinator in node:
            return [
                variant for branch in node[combinator] for variant in _variants(_resolve(branch, root), root)
            ]
    if len(node.get("allOf", ())) == 1:
        siblings = {key: value for key, value in node.items() if key != "allOf"}
        return _variants({**_resolve(node["allOf"][0], root), **siblings}, root)
    return [node]


_JSON_TYPE_OF = {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}


def _type_labels(variant: JsonSchema) -> set[str]:
    """What a reader sees of a value: its JSON type, refined by `format` (a date is not any string)."""
    declared = variant.get("type")
    if declared is None:
        if "enum" in variant:
            names = {_JSON_TYPE_OF.get(type(value), "any") for value in variant["enum"]}
        elif "const" in variant:
            names = {_JSON_TYPE_OF.get(type(variant["const"]), "any")}
        elif "properties" in variant:
            names = {"object"}
        else:
            names = {"any"}
    else:
        names = set(declared) if isinstance(declared, list) else {declared}
    refinement = variant.get("format")
    return {f"{name}({refinement})" if refinement and name == "string" else name for name in names}


def _enum_values(variants: list[JsonSchema]) -> set[Any]:
    values: set[Any] = set()
    for variant in variants:
        values.update(variant.get("enum", ()))
        if "const" in variant:
            values.add(variant["const"])
    return values


def _first(variants: list[JsonSchema], json_type: str) -> JsonSchema | None:
    return next((variant for variant in variants if json_type in _type_labels(variant)), None)


def _show(values: set[Any]) -> str:
    return " | ".join(sorted(map(str, values)))
