"""The `dife` CLI against the running services (real uvicorn processes, real PostgreSQL and Kafka).

Each command runs in-process through `typer.testing.CliRunner`, in a worker thread (its Kafka commands start
their own event loop), configured only as an operator would: `DIFE_CLI_*` variables. Its token is minted by
the CLI itself from a private key in `DIFE_CLI_KEYS_DIR` (the test key pair the services trust).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from dife_cli.main import app
from dife_contracts import topics
from dife_contracts.enums import TrainingPurpose
from dife_contracts.events import DifeCaptureRequested, DifeHoldRequested
from servicekit.testing import collect, publish
from servicekit.testing.plugin import TEST_ISSUER, JwtKeys
from typer.testing import CliRunner, Result

if TYPE_CHECKING:
    from conftest import Platform

CM_HEADER = (
    "Code du département;Libellé du département;Code de la collectivité à statut particulier;"
    "Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;Nom de l'élu;"
    "Prénom de l'élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;"
    "Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;"
    "Date de début de la fonction;Code nationalité"
)
NIR = "261037511100538"  # a woman born in March 1961 (R-REG-3: sex, year and month agree with the élu)
Bearer = Callable[..., dict[str, str]]


@pytest.fixture
def dife(platform: Platform, jwt_keys: JwtKeys, tmp_path: Path) -> Callable[..., Any]:
    """`await dife("registry", "import", …)`: the CLI as an operator runs it, pointed at this platform."""
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "dev-jwt-private.pem").write_text(jwt_keys.private_pem, encoding="ascii")
    env: dict[str, str | None] = {
        "DIFE_CLI_LEDGER_URL": platform.services["rights-ledger"].base_url,
        "DIFE_CLI_CATALOGUE_URL": platform.services["catalogue"].base_url,
        "DIFE_CLI_KAFKA_BOOTSTRAP_SERVERS": platform.infra.kafka_bootstrap,
        "DIFE_CLI_TOPIC_PREFIX": platform.topic_prefix,
        "DIFE_CLI_KEYS_DIR": str(keys),
        "DIFE_CLI_JWT_ISSUER": TEST_ISSUER,
        "DIFE_CLI_POLL_INTERVAL_S": "0.1",
        "DIFE_CLI_JOB_TIMEOUT_S": "120",
    }
    runner = CliRunner()

    async def run(*args: str) -> Result:
        def invoke() -> Result:
            return runner.invoke(app, list(args), env=env)

        return await asyncio.to_thread(invoke)

    return run


def rne_rows(family: str, count: int) -> list[str]:
    return [
        f"01;Ain;;;{1000 + i};Commune {1000 + i};{family};Prénom{i};F;05/03/1961;23;Cadres;28/06/2020;;;FR"
        for i in range(count)
    ]


async def import_parameters(platform: Platform) -> set[str]:
    async with platform.services["rights-ledger"].client() as ledger:
        openapi = (await ledger.get("/openapi.json")).json()
    parameters = openapi["paths"]["/v1/registry/imports"]["post"].get("parameters", [])
    return {parameter["name"] for parameter in parameters}


async def snapshot_flags(platform: Platform) -> list[str]:
    """Each import is a whole snapshot of its file type: it ends the mandates of the élus other tests
    imported. The hardened ledger refuses that above a share unless `force=true`; the old one lacks it."""
    return ["--force"] if "force" in await import_parameters(platform) else []


async def elus_named(ledger: httpx.AsyncClient, family: str, agent: dict[str, str]) -> list[Any]:
    found = await ledger.get("/v1/elus", params={"family_name": family, "limit": 500}, headers=agent)
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


async def test_dife_registry_import_uploads_follows_the_job_with_progress_and_reports_rejections(
    platform: Platform, dife: Callable[..., Any], bearer: Bearer, tmp_path: Path
) -> None:
    family = f"CLI{uuid.uuid4().hex[:8].upper()}"
    bad = f"01;Ain;;;1999;Commune 1999;{family};Bad;F;31/02/1961;23;Cadres;28/06/2020;;;FR"
    file = tmp_path / "rne-cm.csv"
    file.write_text("\n".join([CM_HEADER, *rne_rows(family, 30), bad]) + "\n", encoding="utf-8")
    rejected_csv = tmp_path / "rejected.csv"

    result = await dife(
        "registry",
        "import",
        str(file),
        "--type",
        "cm",
        "--snapshot-date",
        "2026-01-15",
        "--rejected-csv",
        str(rejected_csv),
        *await snapshot_flags(platform),
    )

    assert result.exit_code == 0, result.output
    assert "upload rne-cm.csv" in result.output  # the upload's progress bar
    assert "31/31" in result.output  # the job's progress bar, rows_done / rows_total at the end
    assert "rows_loaded" in result.stdout and "succeeded" in result.stdout
    assert "rejected lines (1)" in result.stdout and "birth date" in result.stdout
    assert rejected_csv.read_text(encoding="utf-8").splitlines()[1].startswith("32,")
    async with platform.services["rights-ledger"].client() as ledger:
        assert len(await elus_named(ledger, family, bearer("agent"))) == 30
        has_jobs_api = "/v1/jobs/{job_id}" in (await ledger.get("/openapi.json")).json()["paths"]
    if has_jobs_api:  # the ledger on servicekit.jobs (service-shape issue): the job is listed and shown
        job_id = next(word for word in result.stdout.split() if word.count("-") == 4 and len(word) == 36)
        listed = await dife("jobs", "list", "--service", "ledger", "--kind", "rne_import")
        assert listed.exit_code == 0, listed.output
        assert job_id in listed.stdout
        shown = await dife("jobs", "show", job_id)
        assert shown.exit_code == 0, shown.output
        assert "rows_loaded" in shown.stdout and "rejected lines (1)" in shown.stdout


async def test_dife_registry_import_dry_run_changes_nothing(
    platform: Platform, dife: Callable[..., Any], bearer: Bearer, tmp_path: Path
) -> None:
    """With a ledger that knows `dry_run` the report comes back and nothing is stored; with one that does
    not (the hardening issue not merged yet) the CLI refuses before sending, since the ledger would ignore
    the flag and import for real. Either way, no élu of the file exists afterwards."""
    family = f"DRY{uuid.uuid4().hex[:8].upper()}"
    file = tmp_path / "rne-cm.csv"
    file.write_text("\n".join([CM_HEADER, *rne_rows(family, 5)]) + "\n", encoding="utf-8")

    flags = await snapshot_flags(platform)
    args = ["registry", "import", str(file), "--type", "cm", "--snapshot-date", "2026-01-15", *flags]
    result = await dife(*args, "--dry-run")

    async with platform.services["rights-ledger"].client() as ledger:
        if "dry_run" in await import_parameters(platform):
            assert result.exit_code == 0, result.output
            assert "rows_read" in result.stdout
        else:
            assert result.exit_code == 1
            assert "does not accept dry_run" in result.output and "nothing was sent" in result.output
        assert await elus_named(ledger, family, bearer("agent")) == []


async def test_dife_refusal_prints_the_problem_detail_and_exits_1(dife: Callable[..., Any]) -> None:
    result = await dife("campaign", "run", "--family", "regional", "--year", "2027")
    assert result.exit_code == 1
    assert "refused (422" in result.output and "family" in result.output
    assert "Traceback" not in result.output


async def _activation_body(ledger: httpx.AsyncClient, family: str) -> dict[str, str]:
    """Before the hardening issue the identity is in the body; after it, only the NIR (the identity comes
    from the token's FranceConnect claims, which `bearer` puts in either way)."""
    schemas = (await ledger.get("/openapi.json")).json()["components"]["schemas"]
    if "family_name" in schemas["ActivationIn"]["properties"]:
        return {"nir": NIR, "family_name": family, "given_names": "Élise", "birth_date": "1961-03-05"}
    return {"nir": NIR}


async def _credited_elu(platform: Platform, dife: Callable[..., Any], bearer: Bearer, tmp_path: Path) -> str:
    """An élu imported, activated and credited for 2026 (400 €), through the CLI where it has a command."""
    family = f"DLT{uuid.uuid4().hex[:8].upper()}"
    file = tmp_path / "rne-dlt.csv"
    row = f"01;Ain;;;1001;Commune 1001;{family};Élise;F;05/03/1961;23;Cadres;28/06/2020;;;FR"
    file.write_text(f"{CM_HEADER}\n{row}\n", encoding="utf-8")
    flags = await snapshot_flags(platform)
    imported = await dife(
        "registry", "import", str(file), "--type", "cm", "--snapshot-date", "2026-01-15", *flags
    )
    assert imported.exit_code == 0, imported.output
    async with platform.services["rights-ledger"].client() as ledger:
        claims = {"family_name": family, "given_name": "Élise", "birthdate": "1961-03-05", "gender": "female"}
        elu = bearer("elu", sub=f"fc-{uuid.uuid4()}", **claims)
        body = await _activation_body(ledger, family)
        activated = await ledger.post("/v1/accounts/activation", json=body, headers=elu)
        assert activated.status_code in (200, 201), activated.text
        elu_id = str(activated.json()["elu_id"])
    campaign = await dife("campaign", "run", "--family", "municipal", "--year", "2026")
    assert campaign.exit_code == 0, campaign.output
    return elu_id


async def test_a_dead_letter_is_listed_and_replayed_after_the_fix(
    platform: Platform, dife: Callable[..., Any], bearer: Bearer, tmp_path: Path
) -> None:
    """A capture arrives before its hold (on purpose): the ledger dead-letters it (R-FUN-5); once the hold
    exists, `dife dlt replay` puts the same event back on the payout topic and the ledger captures it."""
    elu_id = await _credited_elu(platform, dife, bearer, tmp_path)
    dossier_id = uuid.uuid4()
    capture = await publish(
        platform.infra,
        platform.topic_prefix,
        DifeCaptureRequested(dossier_id=dossier_id, elu_id=uuid.UUID(elu_id), amount_cents=20_000),
    )
    parked = await collect(
        platform.infra,
        platform.topic(topics.dead_letter(topics.PAYOUT)),
        count=1,
        timeout_s=30,
        where=lambda envelope: envelope.id == capture.id,
    )
    assert len(parked) == 1

    listed = await dife("dlt", "list", "--topic", "payout", "--full")
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.stdout.splitlines() if capture.id in line)
    assert "dife.payout.dife_capture_requested.v1" in line
    as_json = await dife("dlt", "list", "--topic", "payout", "--json")
    letters = [json.loads(line) for line in as_json.stdout.splitlines()]
    (letter,) = [letter for letter in letters if letter["id"] == capture.id]
    assert letter["error_type"] in line  # RuleBroken (or PermanentEventError before the service-shape issue)
    assert "R-FUN-5" in letter["error"] and "capture" in letter["error"]
    assert letter["original_topic"] == platform.topic(topics.PAYOUT)
    assert letter["consumer_group"] and letter["first_seen"]

    await publish(  # the fix: the hold the capture needs
        platform.infra,
        platform.topic_prefix,
        DifeHoldRequested(
            dossier_id=dossier_id,
            elu_id=uuid.UUID(elu_id),
            amount_cents=30_000,
            purpose=TrainingPurpose.MANDATE,
            training_start=date(2026, 9, 1),
            training_end=date(2026, 9, 2),
        ),
    )
    ledger_topic = platform.topic(topics.LEDGER)
    placed = await collect(
        platform.infra,
        ledger_topic,
        count=1,
        timeout_s=30,
        where=lambda e: e.type == "dife.ledger.hold_placed.v1" and e.subject == elu_id,
    )
    assert len(placed) == 1

    replayed = await dife("dlt", "replay", "--topic", "dife.payout.events", "--id", capture.id)
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed {capture.id}" in replayed.stdout and "1 event(s) replayed" in replayed.stdout

    captured = await collect(
        platform.infra,
        ledger_topic,
        count=1,
        timeout_s=30,
        where=lambda e: e.type == "dife.ledger.hold_captured.v1" and e.subject == elu_id,
    )
    assert len(captured) == 1
    assert captured[0].parse().model_dump()["captured_cents"] == 20_000
    back = await collect(
        platform.infra, platform.topic(topics.PAYOUT), count=2, where=lambda e: e.id == capture.id
    )
    assert len(back) == 2  # the original and the replay: same id, so the inbox would ignore a second apply
