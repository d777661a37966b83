"""Conventions every event type keeps (DESIGN.md, Events), checked over the whole registry."""

import re
import typing
from collections.abc import Iterator
from types import ModuleType, UnionType

import pytest
from dife_contracts import EVENT_TYPES, Event, UnknownEventType, event_type, events, topics
from dife_contracts.events import ALL_EVENTS, catalogue, contributions, dossier, funding, ledger, payout
from dife_contracts.examples import EXAMPLES
from pydantic import BaseModel, Strict
from pydantic.fields import FieldInfo

CE_TYPE = re.compile(r"dife\.(?P<context>[a-z]+)\.(?P<event>[a-z][a-z_]*[a-z])\.v(?P<version>[1-9]\d*)")
CONTEXT_MODULES: dict[str, ModuleType] = {
    "ledger": ledger,
    "catalogue": catalogue,
    "dossier": dossier,
    "funding": funding,
    "payout": payout,
    "contributions": contributions,
}
PERSONAL_DATA = re.compile(r"(^|_)(nir|iban|bic|ssn)(_|$)|social_security|securite_sociale")
MONEY_WORDS = re.compile(r"amount|price|balance|cost|fee|allowance|contribution|outstanding|refund_total")
NOT_MONEY = {
    "realisation_percent",
    "vat_rate_bp",
    "hours",
    "offer_rating_average",
    "organisme_rating_average",
}
SIGNED_MONEY = {("AccountAdjusted", "amount_cents")}

REGISTERED = list(EVENT_TYPES.values())


def _models_within(
    model: type[BaseModel], seen: set[type[BaseModel]] | None = None
) -> Iterator[type[BaseModel]]:
    """The model and every model nested in its fields, each once."""
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        for part in _types_within(field.annotation):
            if isinstance(part, type) and issubclass(part, BaseModel):
                yield from _models_within(part, seen)


def _types_within(annotation: object) -> Iterator[object]:
    """Every type an annotation mentions: `list[Mandate] | None` → list, Mandate, NoneType."""
    yield typing.get_origin(annotation) or annotation
    if typing.get_origin(annotation) is typing.Annotated:
        yield from _types_within(typing.get_args(annotation)[0])
        return
    for argument in typing.get_args(annotation):
        if typing.get_origin(annotation) is not typing.Literal:
            yield from _types_within(argument)


def _all_fields() -> Iterator[tuple[type[BaseModel], str, FieldInfo]]:
    seen: set[type[BaseModel]] = set()
    for event in REGISTERED:
        for model in _models_within(event, seen):
            for name, field in model.model_fields.items():
                yield model, name, field


FIELDS = list(_all_fields())
ALL_FIELDS = [
    pytest.param(model, name, field, id=f"{model.__name__}.{name}") for model, name, field in FIELDS
]


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model.ce_type)
def test_ce_type_is_dife_context_event_version_and_the_topic_is_the_contexts(model: type[Event]) -> None:
    match = CE_TYPE.fullmatch(model.ce_type)

    assert match, f"{model.ce_type} is not dife.<context>.<event>.v<N>"
    assert model.topic == f"dife.{match['context']}.events"
    assert model.topic in topics.ALL_TOPICS
    assert model.__module__ == CONTEXT_MODULES[match["context"]].__name__


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model.ce_type)
def test_the_class_is_named_after_the_event(model: type[Event]) -> None:
    match = CE_TYPE.fullmatch(model.ce_type)
    assert match
    camel = "".join(word.capitalize() for word in match["event"].split("_"))
    version = int(match["version"])

    assert model.__name__ == (camel if version == 1 else f"{camel}V{version}")


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model.ce_type)
def test_the_key_field_is_a_required_field_of_the_payload(model: type[Event]) -> None:
    assert model.key_field in model.model_fields
    assert model.model_fields[model.key_field].is_required()


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model.ce_type)
def test_every_event_type_documents_itself_in_one_line(model: type[Event]) -> None:
    docstring = model.__doc__ or ""

    assert docstring.strip() and "\n" not in docstring.strip(), f"{model.__name__} needs a one-line docstring"
    assert model.model_json_schema()["description"] == docstring.strip()


def test_the_catalogue_of_design_md_is_complete() -> None:
    expected = {
        "ledger": "elu_registered elu_mandates_changed account_activated rights_credited rights_expired "
        "hold_placed hold_rejected hold_captured hold_released account_adjusted",
        "catalogue": "organisme_registered organisme_agrement_changed offer_published offer_withdrawn "
        "session_cancelled offer_quality_updated",
        "dossier": "dossier_submitted dossier_validated dossier_accepted dossier_refused dossier_cancelled "
        "dossier_expired training_started training_completed service_done_declared service_done_validated "
        "dossier_evaluated dossier_paid",
        "funding": "plan_proposed dife_hold_requested dife_release_requested cofunding_requested "
        "cofunding_decided card_payment_confirmed plan_ready plan_failed",
        "payout": "payment_ordered dife_capture_requested payment_sent payment_settled payment_rejected "
        "refund_ordered",
        "contributions": "declaration_received payment_received period_settled period_late",
    }
    wanted = {f"dife.{context}.{name}.v1" for context, names in expected.items() for name in names.split()}

    assert wanted <= set(EVENT_TYPES)


def test_every_concrete_event_class_is_registered_and_exported() -> None:
    defined = {
        value
        for module in CONTEXT_MODULES.values()
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Event) and "ce_type" in vars(value)
    }

    assert defined == set(ALL_EVENTS) == set(REGISTERED)
    assert all(getattr(events, model.__name__) is model for model in defined)


def test_every_event_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(REGISTERED)


def test_the_registry_finds_a_model_by_ce_type() -> None:
    assert event_type("dife.ledger.hold_placed.v1") is events.HoldPlaced
    with pytest.raises(UnknownEventType) as raised:
        event_type("dife.ledger.hold_placed.v0")
    assert raised.value.ce_type == "dife.ledger.hold_placed.v0"


@pytest.mark.parametrize(("model", "name", "field"), ALL_FIELDS)
def test_no_field_carries_a_nir_or_an_iban(model: type[BaseModel], name: str, field: FieldInfo) -> None:
    assert not PERSONAL_DATA.search(name), f"{model.__name__}.{name}: NIR and IBAN never travel on the bus"


@pytest.mark.parametrize(("model", "name", "field"), ALL_FIELDS)
def test_money_is_an_int_in_a_field_named_cents(model: type[BaseModel], name: str, field: FieldInfo) -> None:
    where = f"{model.__name__}.{name}"
    if name.endswith("_cents"):
        assert field.annotation is int, f"{where} must be an int"
        assert any(isinstance(rule, Strict) and rule.strict for rule in field.metadata), (
            f"{where}: use money.Cents"
        )
        if (model.__name__, name) not in SIGNED_MONEY:
            lower_bounds = [getattr(rule, bound, None) for rule in field.metadata for bound in ("ge", "gt")]
            assert 0 in lower_bounds, f"{where} must not be negative"
    elif name not in NOT_MONEY:
        assert not MONEY_WORDS.search(name), f"{where} looks like money: name it *_cents"
    assert float not in set(_types_within(field.annotation)), f"{where}: no floats in events"


def test_the_field_checks_see_nested_models() -> None:
    checked = {model.__name__ for model, _, _ in FIELDS}

    assert {"PlanLine", "Mandate", "OfferSession", "OfferLocation"} <= checked


def test_no_field_is_an_untyped_any() -> None:
    untyped = [f"{model.__name__}.{name}" for model, name, field in FIELDS if field.annotation is typing.Any]

    assert not untyped


def test_unions_in_payloads_are_only_optional_values() -> None:
    for model, name, field in FIELDS:
        if typing.get_origin(field.annotation) in (typing.Union, UnionType):
            arguments = typing.get_args(field.annotation)
            assert len(arguments) == 2 and type(None) in arguments, (
                f"{model.__name__}.{name}: {field.annotation}"
            )
