"""The checked-in JSON Schemas and AsyncAPI document: compatible, complete and up to date.

When one of these fails after a change to a model: run `uv run python -m dife_contracts.export` from the repo
root and commit libs/contracts/schemas/ and asyncapi.yaml. If the generator refuses, the change is breaking:
keep the old model and add a new `vN+1` event type beside it (see libs/contracts/README.md).
"""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from dife_contracts import EVENT_TYPES, Event, topics
from dife_contracts.compat import breaking_changes
from dife_contracts.examples import EXAMPLES
from dife_contracts.export import (
    ASYNCAPI_FILE,
    CONTRACTS_DIR,
    REGENERATE,
    SCHEMAS_DIR,
    asyncapi_document,
    event_schema,
    main,
    render_asyncapi,
    render_json,
    schema_path,
)

REGISTERED = list(EVENT_TYPES.values())
ids = [model.ce_type for model in REGISTERED]


def _checked_in(model: type[Event]) -> dict[str, Any]:
    path = CONTRACTS_DIR / schema_path(model.ce_type)
    assert path.exists(), f"{path} is missing: run `{REGENERATE}`"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def test_every_event_type_has_a_checked_in_schema_and_every_schema_an_event_type() -> None:
    checked_in = {path.name for path in (CONTRACTS_DIR / SCHEMAS_DIR).glob("*.json")}

    assert checked_in == {schema_path(ce_type).name for ce_type in EVENT_TYPES}, (
        f"run `{REGENERATE}`; a schema without an event type means a type was removed: keep it"
    )


@pytest.mark.parametrize("model", REGISTERED, ids=ids)
def test_every_event_type_is_backward_compatible_with_its_checked_in_schema(model: type[Event]) -> None:
    problems = breaking_changes(_checked_in(model), event_schema(model))

    assert not problems, (
        f"{model.ce_type} changed incompatibly: {problems}. "
        f"Restore it and publish {_next_version(model.ce_type)} beside it."
    )


@pytest.mark.parametrize("model", REGISTERED, ids=ids)
def test_every_checked_in_schema_is_what_the_model_generates(model: type[Event]) -> None:
    path = CONTRACTS_DIR / schema_path(model.ce_type)

    assert path.read_text(encoding="utf-8") == render_json(event_schema(model)), f"{path}: run `{REGENERATE}`"


def test_the_checked_in_asyncapi_document_is_what_the_generator_produces() -> None:
    path = CONTRACTS_DIR / ASYNCAPI_FILE
    assert path.read_text(encoding="utf-8") == render_asyncapi(asyncapi_document()), (
        f"{path}: run `{REGENERATE}`"
    )


def test_the_export_check_passes_on_the_checked_in_files() -> None:
    assert main(["--check"]) == 0


@pytest.mark.parametrize("model", REGISTERED, ids=ids)
def test_each_example_payload_is_valid_against_its_json_schema(model: type[Event]) -> None:
    schema = _checked_in(model)

    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(EXAMPLES[model].model_dump(mode="json"), schema, cls=jsonschema.Draft202012Validator)


def test_a_float_amount_is_invalid_against_the_json_schema_too() -> None:
    hold_placed = EVENT_TYPES["dife.ledger.hold_placed.v1"]
    payload = EXAMPLES[hold_placed].model_dump(mode="json") | {"amount_cents": 1.5}

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, _checked_in(hold_placed), cls=jsonschema.Draft202012Validator)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The checked-in AsyncAPI document, parsed once (libyaml when present: the document is large)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    parsed: dict[str, Any] = yaml.load(
        (CONTRACTS_DIR / ASYNCAPI_FILE).read_text(encoding="utf-8"), Loader=loader
    )
    return parsed


def test_the_asyncapi_document_has_one_channel_per_topic_with_its_messages(document: dict[str, Any]) -> None:

    assert document["asyncapi"] == "3.0.0"
    assert [channel["address"] for channel in document["channels"].values()] == list(topics.ALL_TOPICS)
    for channel in document["channels"].values():
        messages = {ref["$ref"].rsplit("/", 1)[1] for ref in channel["messages"].values()}
        assert messages == {model.ce_type for model in REGISTERED if model.topic == channel["address"]}
    assert set(document["components"]["messages"]) == set(EVENT_TYPES)


def test_every_reference_in_the_asyncapi_document_resolves(document: dict[str, Any]) -> None:

    for reference in _references(document):
        target: Any = document
        for token in reference.removeprefix("#/").split("/"):
            assert token in target, f"{reference} does not resolve"
            target = target[token]


def test_asyncapi_messages_describe_the_cloudevents_headers_and_the_kafka_key(
    document: dict[str, Any],
) -> None:
    message = document["components"]["messages"]["dife.ledger.hold_placed.v1"]

    assert message["headers"]["properties"]["ce_type"]["const"] == "dife.ledger.hold_placed.v1"
    assert set(message["headers"]["required"]) >= {"ce_id", "ce_type", "ce_source", "ce_time", "ce_subject"}
    assert message["bindings"]["kafka"]["key"]["format"] == "uuid"
    assert message["payload"] == {"$ref": "#/components/schemas/HoldPlaced"}


def test_the_generator_writes_every_file_into_an_empty_tree(tmp_path: Path) -> None:
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--root", str(tmp_path), "--check"]) == 0
    assert len(list((tmp_path / SCHEMAS_DIR).glob("*.json"))) == len(EVENT_TYPES)


def test_the_generator_refuses_to_overwrite_a_schema_with_a_breaking_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--root", str(tmp_path)])
    path = tmp_path / schema_path("dife.ledger.hold_placed.v1")
    published = json.loads(path.read_text(encoding="utf-8"))
    published["properties"]["retired_field"] = {"type": "string"}
    path.write_text(json.dumps(published), encoding="utf-8")

    assert main(["--root", str(tmp_path)]) == 1
    assert "retired_field: property removed" in capsys.readouterr().err
    assert json.loads(path.read_text(encoding="utf-8")) == published


def test_the_check_reports_an_orphan_schema(tmp_path: Path) -> None:
    main(["--root", str(tmp_path)])
    (tmp_path / SCHEMAS_DIR / "dife.ledger.retired_event.v1.json").write_text("{}", encoding="utf-8")

    assert main(["--root", str(tmp_path), "--check"]) == 1


def _next_version(ce_type: str) -> str:
    name, version = ce_type.rsplit(".v", 1)
    return f"{name}.v{int(version) + 1}"


def _references(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [reference for value in node.values() for reference in _references(value)]
    if isinstance(node, list):
        return [reference for value in node for reference in _references(value)]
    return []
