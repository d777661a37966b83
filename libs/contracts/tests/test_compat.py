"""The compatibility checker catches every kind of breaking change the design names, and nothing else."""

import copy
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from dife_contracts import Event
from dife_contracts.compat import JsonSchema, breaking_changes
from dife_contracts.events import EluRegistered, PlanReady
from dife_contracts.export import event_schema
from pydantic import BaseModel


def _schema(model: type[BaseModel]) -> JsonSchema:
    return model.model_json_schema(mode="serialization")


class _Base(Event):
    ce_type: ClassVar[str] = "dife.ledger.something_happened.v1"
    topic: ClassVar[str] = "dife.ledger.events"
    key_field: ClassVar[str] = "elu_id"

    elu_id: UUID


class _Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class _FewerColours(StrEnum):
    RED = "red"


class _MoreColours(StrEnum):
    RED = "red"
    BLUE = "blue"
    GREEN = "green"


class _Part(BaseModel):
    starts_on: date
    label: str


class _PartWithInstant(BaseModel):
    starts_on: datetime
    label: str


class _Original(_Base):
    amount_cents: int
    reason: str
    note: str | None = None
    colour: _Colour
    parts: list[_Part]


class _WithoutReason(_Base):
    amount_cents: int
    note: str | None = None
    colour: _Colour
    parts: list[_Part]


class _AmountAsText(_Base):
    amount_cents: str
    reason: str
    note: str | None = None
    colour: _Colour
    parts: list[_Part]


class _NestedTypeChanged(_Base):
    amount_cents: int
    reason: str
    note: str | None = None
    colour: _Colour
    parts: list[_PartWithInstant]


class _WithNewRequired(_Base):
    amount_cents: int
    reason: str
    note: str | None = None
    colour: _Colour
    parts: list[_Part]
    hold_id: UUID


class _NoteRequired(_Base):
    amount_cents: int
    reason: str
    note: str | None
    colour: _Colour
    parts: list[_Part]


class _WithNewOptional(_Base):
    amount_cents: int
    reason: str
    note: str | None = None
    colour: _MoreColours
    parts: list[_Part]
    hold_id: UUID | None = None


class _ColourRemoved(_Base):
    amount_cents: int
    reason: str
    note: str | None = None
    colour: _FewerColours
    parts: list[_Part]


class _ReasonNullable(_Base):
    amount_cents: int
    reason: str | None
    note: str | None = None
    colour: _Colour
    parts: list[_Part]


def test_an_unchanged_schema_is_compatible() -> None:
    assert breaking_changes(_schema(_Original), _schema(_Original)) == []


def test_a_removed_field_is_breaking() -> None:
    assert breaking_changes(_schema(_Original), _schema(_WithoutReason)) == ["reason: property removed"]


def test_a_changed_type_is_breaking() -> None:
    assert breaking_changes(_schema(_Original), _schema(_AmountAsText)) == [
        "amount_cents: type changed from integer to string"
    ]


def test_a_changed_type_inside_a_nested_model_is_breaking() -> None:
    assert breaking_changes(_schema(_Original), _schema(_NestedTypeChanged)) == [
        "parts[].starts_on: type changed from string(date) to string(date-time)"
    ]


def test_a_new_required_field_is_breaking() -> None:
    assert breaking_changes(_schema(_Original), _schema(_WithNewRequired)) == [
        "hold_id: new required property"
    ]


def test_an_optional_field_that_becomes_required_is_breaking() -> None:
    assert breaking_changes(_schema(_Original), _schema(_NoteRequired)) == [
        "note: optional property became required"
    ]


def test_a_field_that_becomes_nullable_is_breaking_for_readers_of_the_old_schema() -> None:
    assert breaking_changes(_schema(_Original), _schema(_ReasonNullable)) == [
        "reason: type changed from string to null | string"
    ]


def test_a_removed_enum_value_is_breaking() -> None:
    assert breaking_changes(_schema(_Original), _schema(_ColourRemoved)) == [
        "colour: enum value(s) removed: blue"
    ]


def test_a_new_optional_field_or_a_new_enum_value_is_compatible() -> None:
    assert breaking_changes(_schema(_Original), _schema(_WithNewOptional)) == []


def test_taking_back_an_optional_field_and_an_enum_value_is_breaking() -> None:
    assert breaking_changes(_schema(_WithNewOptional), _schema(_Original)) == [
        "colour: enum value(s) removed: green",
        "hold_id: property removed",
    ]


def test_references_are_resolved_inside_real_event_schemas() -> None:
    old = event_schema(EluRegistered)
    new = copy.deepcopy(old)
    new["$defs"]["Mandate"]["properties"]["start_date"] = {"type": "string", "format": "date-time"}
    del new["$defs"]["Mandate"]["properties"]["function"]

    assert breaking_changes(old, new) == [
        "mandates[].function: property removed",
        "mandates[].start_date: type changed from string(date) to string(date-time)",
    ]


def test_a_changed_enum_definition_in_defs_is_seen() -> None:
    old = event_schema(PlanReady)
    new = copy.deepcopy(old)
    new["$defs"]["FundingSource"]["enum"].remove("cec")

    assert breaking_changes(old, new) == ["lines[].source: enum value(s) removed: cec"]


def test_a_nested_model_that_becomes_required_somewhere_deep_is_seen() -> None:
    old = event_schema(EluRegistered)
    new = copy.deepcopy(old)
    new["$defs"]["Mandate"]["required"].append("end_date")

    assert breaking_changes(old, new) == ["mandates[].end_date: optional property became required"]


class _Node(BaseModel):
    label: str
    children: list["_Node"] = []


class _NodeWithRequiredWeight(BaseModel):
    label: str
    weight: int
    children: list["_NodeWithRequiredWeight"] = []


def test_a_recursive_model_is_compared_without_looping() -> None:
    assert breaking_changes(_schema(_Node), _schema(_Node)) == []
    assert breaking_changes(_schema(_Node), _schema(_NodeWithRequiredWeight)) == [
        "weight: new required property"
    ]
