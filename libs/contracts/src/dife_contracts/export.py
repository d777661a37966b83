"""Generate the checked-in contract documents: one JSON Schema per event type and the AsyncAPI 3.0 document.

    python -m dife_contracts.export            # rewrite libs/contracts/schemas/ and asyncapi.yaml
    python -m dife_contracts.export --check    # exit 1 if they are not what the models generate

Output is deterministic (sorted JSON keys, catalogue order, fixed examples): a diff shows a real change.
A schema already checked in is never overwritten with a backward-incompatible one: publish a new `vN+1` type.
"""

import argparse
import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from dife_contracts import topics
from dife_contracts.compat import JsonSchema, breaking_changes
from dife_contracts.envelope import JSON, SPECVERSION
from dife_contracts.event import Event
from dife_contracts.examples import EXAMPLES
from dife_contracts.registry import EVENT_TYPES

CONTRACTS_DIR = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = Path("schemas")
ASYNCAPI_FILE = Path("asyncapi.yaml")
REGENERATE = "uv run python -m dife_contracts.export"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING_VERSION = "0.5.0"
DEFAULT_PARTITIONS = 12


def schema_path(ce_type: str) -> Path:
    """Where the JSON Schema of `ce_type` is checked in, relative to libs/contracts."""
    return SCHEMAS_DIR / f"{ce_type}.json"


def event_schema(model: type[Event]) -> JsonSchema:
    """The JSON Schema of a payload as it travels (serialization mode: decimals are strings)."""
    schema = model.model_json_schema(mode="serialization")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$comment": f"{model.ce_type} on {model.topic}, key {model.key_field}. Generated: {REGENERATE}",
        **schema,
    }


def render_json(schema: JsonSchema) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic and message, for integrators."""
    models = list(EVENT_TYPES.values())
    _, definitions = models_json_schema(
        [(model, "serialization") for model in models], ref_template="#/components/schemas/{model}"
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in topics.ALL_TOPICS:
        context = topics.context_of(topic)
        on_topic = [model for model in models if model.topic == topic]
        channels[context] = {
            "address": topic,
            "title": f"{context} events",
            "description": f"Events produced by the {context} context, keyed by {_key_fields(on_topic)}.",
            "messages": {
                model.ce_type: {"$ref": f"#/components/messages/{model.ce_type}"} for model in on_topic
            },
            "bindings": {
                "kafka": {
                    "topic": topic,
                    "partitions": DEFAULT_PARTITIONS,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        operations[f"publish_{context}_events"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{context}"},
            "summary": f"The {context} context publishes its events on {topic}.",
            "messages": [{"$ref": f"#/channels/{context}/messages/{model.ce_type}"} for model in on_topic],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "DIFE platform events",
            "version": version("dife-contracts"),
            "description": _DESCRIPTION,
        },
        "defaultContentType": JSON,
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "The local stack; each environment gives its own bootstrap servers.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {model.ce_type: _message(model) for model in models},
            "schemas": definitions["$defs"],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so the document reads as it was written."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _represent_str)


def render_asyncapi(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def generated_files() -> dict[Path, str]:
    """Every generated file's path (relative to libs/contracts) and content."""
    files = {schema_path(ce_type): render_json(event_schema(model)) for ce_type, model in EVENT_TYPES.items()}
    files[ASYNCAPI_FILE] = render_asyncapi(asyncapi_document())
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dife_contracts.export", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a file is out of date")
    parser.add_argument("--root", type=Path, default=CONTRACTS_DIR, help="the libs/contracts directory")
    arguments = parser.parse_args(argv)
    root: Path = arguments.root

    files = generated_files()
    stale = [path for path, text in files.items() if _read(root / path) != text]
    orphans = sorted(
        path.relative_to(root)
        for path in (root / SCHEMAS_DIR).glob("*.json")
        if path.relative_to(root) not in files
    )
    for orphan in orphans:
        print(
            f"{orphan}: no registered event type has this schema; a type is retired, never removed",
            file=sys.stderr,
        )
    if arguments.check:
        for path in stale:
            print(f"{path}: out of date; run `{REGENERATE}`", file=sys.stderr)
        return 1 if stale or orphans else 0

    breaking = [
        f"{model.ce_type}: {problem}"
        for model in EVENT_TYPES.values()
        if (old := _read(root / schema_path(model.ce_type))) is not None
        for problem in breaking_changes(json.loads(old), event_schema(model))
    ]
    if breaking:
        print("Backward-incompatible changes; publish a new vN+1 event type instead:", file=sys.stderr)
        print("\n".join(f"  {problem}" for problem in breaking), file=sys.stderr)
        return 1
    for path in stale:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(files[path], encoding="utf-8")
        print(f"wrote {path}")
    return 1 if orphans else 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def _key_fields(models: list[type[Event]]) -> str:
    return " or ".join(sorted({model.key_field for model in models}))


def _message(model: type[Event]) -> dict[str, Any]:
    payload_schema = event_schema(model)
    key_schema = {
        name: value
        for name, value in payload_schema["properties"][model.key_field].items()
        if name != "title"
    }
    example = EXAMPLES[model]
    return {
        "name": model.ce_type,
        "title": model.__name__,
        "summary": (model.__doc__ or "").strip().splitlines()[0],
        "contentType": JSON,
        "headers": _headers(model),
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        "bindings": {
            "kafka": {
                "key": {**key_schema, "description": f"The aggregate id: {model.key_field}."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [
            {
                "name": model.__name__,
                "headers": {"ce_type": model.ce_type, "ce_subject": example.aggregate_id()},
                "payload": example.model_dump(mode="json"),
            }
        ],
    }


def _headers(model: type[Event]) -> dict[str, Any]:
    """The CloudEvents attributes of binary mode, one Kafka header each."""
    return {
        "type": "object",
        "required": [
            "ce_id",
            "ce_type",
            "ce_source",
            "ce_specversion",
            "ce_time",
            "ce_subject",
            "content-type",
        ],
        "properties": {
            "ce_id": {
                "type": "string",
                "format": "uuid",
                "description": "Unique id of the event; consumers dedupe on it.",
            },
            "ce_type": {"type": "string", "const": model.ce_type},
            "ce_source": {
                "type": "string",
                "description": "The producing service, e.g. `/dife/rights-ledger`.",
            },
            "ce_specversion": {"type": "string", "const": SPECVERSION},
            "ce_time": {
                "type": "string",
                "format": "date-time",
                "description": "When it happened (RFC 3339, UTC).",
            },
            "ce_subject": {
                "type": "string",
                "description": f"The aggregate id ({model.key_field}), also the Kafka key.",
            },
            "content-type": {"type": "string", "const": JSON},
            "traceparent": {
                "type": "string",
                "description": "W3C Trace Context of the producing request, if any.",
            },
        },
    }


_DESCRIPTION = """\
Events of the DIFE platform (droit individuel à la formation des élus locaux).

Each Kafka record is a CloudEvents 1.0 event in binary mode: the value is the JSON payload, the attributes
are `ce_*` headers, and the key is the aggregate id, so the events of one aggregate arrive in order.
Amounts are integer euro cents (`*_cents`); identifiers are UUIDs, organisations are known by SIRET or SIREN.
Readers must ignore fields they do not know; a backward-incompatible change ships as a new `vN+1` type beside
the old one. `dife.dossier.events` is the topic meant for integrators.
"""


if __name__ == "__main__":
    raise SystemExit(main())
