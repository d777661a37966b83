"""The CLI's formatting and error paths, against an `httpx.MockTransport` (the real services: tests-e2e)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from dife_cli import client as client_module
from dife_cli.dlt import DeadLetter, dead_letter_topic, latest_per_event
from dife_cli.main import app
from dife_cli.render import euros
from dife_cli.tokens import ROLES
from dife_contracts.enums import Role
from servicekit.devtokens import ensure_dev_keypair
from typer.testing import CliRunner

Handler = Callable[[httpx.Request], httpx.Response]
JOB_ID = "0b6b1c36-3c8e-4a39-9d2a-8a3a4d1f2e10"
ENV = {"DIFE_CLI_TOKEN": "test-token", "DIFE_CLI_POLL_INTERVAL_S": "0", "DIFE_CLI_DEBUG": ""}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Handler], list[httpx.Request]]]:
    """Route the CLI's HTTP to a handler; returns the list of requests it received."""

    def install(handler: Handler) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            request.read()
            seen.append(request)
            return handler(request)

        monkeypatch.setattr(client_module, "TRANSPORT", httpx.MockTransport(record))
        return seen

    yield install


def job(status: str, done: int = 0, total: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": JOB_ID,
        "kind": "rne_import",
        "status": status,
        "params": {},
        "rows_done": done,
        "rows_total": total,
        "report": {},
        "error": None,
        "created_at": "2026-11-27T10:00:00Z",
        "started_at": None,
        "finished_at": None,
        **extra,
    }


def openapi(*parameters: str) -> dict[str, Any]:
    names = ["file_type", "snapshot_date", *parameters]
    return {"paths": {"/v1/registry/imports": {"post": {"parameters": [{"name": n} for n in names]}}}}


def rne_file(tmp_path: Path) -> Path:
    path = tmp_path / "rne-cm.csv"
    path.write_bytes(b"header\n" + b"row\n" * 50_000)
    return path


def test_token_mints_count_tokens_with_identity_claims_from_one_parsed_key(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--count` signs every token with the key parsed once (parsing is the slow part), not once a token."""
    _, public_pem = ensure_dev_keypair(tmp_path)
    parsed: list[bytes] = []
    parse = serialization.load_pem_private_key

    def counting_parse(data: bytes, password: bytes | None) -> Any:
        parsed.append(data)
        return parse(data, password=password)

    monkeypatch.setattr(serialization, "load_pem_private_key", counting_parse)
    args = ["token", "--role", "elu", "--elu-id", "e-1", "--family-name", "Durand", "--given-name", "Élise"]
    args += ["--birthdate", "1961-03-05", "--gender", "female", "--count", "200"]
    result = runner.invoke(app, args, env={"DIFE_CLI_KEYS_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    tokens = result.stdout.split()
    assert len(tokens) == 200 and len(set(tokens)) == 200
    assert len(parsed) == 1
    claims = jwt.decode(tokens[0], public_pem, algorithms=["RS256"], audience="dife", issuer="dife-dev")
    assert claims["sub"] == "e-1" and claims["elu_id"] == "e-1" and claims["roles"] == ["elu"]
    assert (claims["family_name"], claims["given_name"]) == ("Durand", "Élise")
    assert (claims["birthdate"], claims["gender"]) == ("1961-03-05", "female")


def test_token_organisme_carries_its_siret(runner: CliRunner, tmp_path: Path) -> None:
    _, public_pem = ensure_dev_keypair(tmp_path)
    result = runner.invoke(
        app,
        ["token", "--role", "organisme", "--siret", "12345678900011"],
        env={"DIFE_CLI_KEYS_DIR": str(tmp_path)},
    )
    claims = jwt.decode(result.stdout.strip(), public_pem, algorithms=["RS256"], audience="dife")
    assert claims["siret"] == "12345678900011" and claims["sub"] == "dev-organisme"


def test_token_refuses_an_unknown_role_without_traceback(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["token", "--role", "admin"], env={"DIFE_CLI_KEYS_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "unknown role(s) admin" in result.output and "Traceback" not in result.output


def test_the_cli_knows_exactly_the_roles_of_the_contracts() -> None:
    assert set(ROLES) == {role.value for role in Role}


def test_import_streams_the_file_follows_the_job_and_prints_rejected_lines(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]], tmp_path: Path
) -> None:
    states = iter(
        [
            job("running", 10, 100),
            job(
                "succeeded",
                100,
                100,
                report={
                    "rows_read": 100,
                    "rows_loaded": 98,
                    "rows_rejected": 3,
                    "rejected": [
                        {"line": 7, "reason": "birth date: day out of range"},
                        {"line": 9, "reason": "=HYPERLINK() family name missing"},
                    ],
                },
            ),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(202, json=job("pending"))
        assert request.url.path == f"/v1/registry/imports/{JOB_ID}"
        return httpx.Response(200, json=next(states))

    seen = serve(handler)
    file = rne_file(tmp_path)
    rejected = tmp_path / "rejected.csv"
    args = ["registry", "import", str(file), "--type", "cm", "--snapshot-date", "2026-01-15"]
    result = runner.invoke(app, [*args, "--rejected-csv", str(rejected)], env=ENV)

    assert result.exit_code == 0, result.output
    post = seen[0]
    assert post.url.params["file_type"] == "cm" and post.url.params["snapshot_date"] == "2026-01-15"
    assert "dry_run" not in post.url.params
    assert post.content == file.read_bytes()
    assert post.headers["Content-Length"] == str(file.stat().st_size)
    assert post.headers["Authorization"] == "Bearer test-token" and post.headers["Idempotency-Key"]
    assert "rows_loaded" in result.stdout and "98" in result.stdout
    assert "rejected lines (2)" in result.stdout and "day out of range" in result.stdout
    assert "first 2 of 3 rejected lines" in result.output
    with rejected.open(encoding="utf-8") as lines:
        rows = list(csv.reader(lines))
    assert rows[0] == ["line", "reason"] and rows[1] == ["7", "birth date: day out of range"]
    assert rows[2][1].startswith("'=HYPERLINK")  # a spreadsheet will not run it


def test_dry_run_is_refused_before_sending_when_the_ledger_does_not_know_it(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]], tmp_path: Path
) -> None:
    seen = serve(lambda request: httpx.Response(200, json=openapi()))
    args = ["registry", "import", str(rne_file(tmp_path)), "--type", "cm", "--snapshot-date", "2026-01-15"]
    result = runner.invoke(app, [*args, "--dry-run"], env=ENV)
    assert result.exit_code == 1
    assert "does not accept dry_run" in result.output and "nothing was sent" in result.output
    assert [request.method for request in seen] == ["GET"]


def test_dry_run_and_force_are_sent_when_the_ledger_accepts_them(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]], tmp_path: Path
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/openapi.json":
            return httpx.Response(200, json=openapi("dry_run", "force"))
        return httpx.Response(202, json=job("succeeded", 5, 5, report={"rows_read": 5}))

    seen = serve(handler)
    args = ["registry", "import", str(rne_file(tmp_path)), "--type", "cm", "--snapshot-date", "2026-01-15"]
    result = runner.invoke(app, [*args, "--dry-run", "--force"], env=ENV)
    assert result.exit_code == 0, result.output
    assert seen[1].url.params["dry_run"] == "true" and seen[1].url.params["force"] == "true"


def test_a_refusal_prints_the_problem_detail_and_every_rule_id(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]]
) -> None:
    problem = {
        "type": "https://dife.gouv.fr/problems/rule-violation",
        "title": "Business rule violated",
        "status": 422,
        "detail": "R-ACC-3: a campaign credits municipal or other",
        "rules": [{"id": "R-ACC-3", "detail": "no such family", "field": "family"}],
    }
    headers = {"Content-Type": "application/problem+json"}
    serve(lambda request: httpx.Response(422, json=problem, headers=headers))
    result = runner.invoke(app, ["campaign", "run", "--family", "regional", "--year", "2027"], env=ENV)
    assert result.exit_code == 1
    assert "POST /v1/accrual-campaigns refused (422 Business rule violated)" in result.output
    assert "R-ACC-3: no such family (field family)" in result.output
    assert "Traceback" not in result.output


def test_an_invalid_transition_names_the_current_status_and_what_it_allows(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]], tmp_path: Path
) -> None:
    problem = {"title": "Not allowed", "status": 409, "current": "sent", "allowed": ["settled"]}
    serve(lambda request: httpx.Response(409, json=problem))
    report = tmp_path / "pain002.xml"
    report.write_bytes(b"<Document/>")
    result = runner.invoke(app, ["payout", "batch", "status-report", "b-1", str(report)], env=ENV)
    assert result.exit_code == 1
    assert "current status sent; allowed from there: settled" in result.output


def test_connection_refused_is_one_sentence_naming_the_url(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]]
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    serve(refuse)
    result = runner.invoke(app, ["--payout-url", "http://10.0.0.9:8106", "fund", "position"], env=ENV)
    assert result.exit_code == 1
    assert "cannot connect to the payout service at http://10.0.0.9:8106/v1/fund/position" in result.output
    assert "Traceback" not in result.output


def test_a_failed_job_exits_1_with_its_error(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]]
) -> None:
    serve(lambda request: httpx.Response(202, json=job("failed", error="R-REG-1: no row could be read")))
    result = runner.invoke(app, ["expiry", "run", "--as-of", "2027-01-01"], env=ENV)
    assert result.exit_code == 1
    assert "failed: R-REG-1: no row could be read" in result.output


def test_expiry_sends_the_day_asked(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]]
) -> None:
    seen = serve(lambda request: httpx.Response(202, json=job("succeeded", report={"expired": 3})))
    result = runner.invoke(app, ["expiry", "run", "--as-of", "2027-01-01"], env=ENV)
    assert result.exit_code == 0, result.output
    assert json.loads(seen[0].content) == {"as_of": "2027-01-01"}


def test_jobs_list_shows_the_services_that_answer_and_names_those_that_do_not(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port == 8001:
            assert request.url.params["status"] == "failed"
            return httpx.Response(200, json={"items": [job("failed", error="boom")], "next_cursor": None})
        raise httpx.ConnectError("refused", request=request)

    serve(handler)
    result = runner.invoke(app, ["jobs", "list", "--status", "failed"], env=ENV)
    assert result.exit_code == 0, result.output
    assert JOB_ID in result.stdout and "ledger" in result.stdout
    assert "skipped: cannot connect to the payout service at http://127.0.0.1:8006" in result.output


def test_jobs_show_of_an_unknown_service_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(app, ["jobs", "show", JOB_ID, "--service", "billing"], env=ENV)
    assert result.exit_code == 1 and "unknown service 'billing'" in result.output


def test_batch_download_writes_the_file_and_leaves_no_partial_on_error(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]], tmp_path: Path
) -> None:
    serve(lambda request: httpx.Response(200, content=b"<Document>pain.001</Document>"))
    target = tmp_path / "batch.xml"
    result = runner.invoke(app, ["payout", "batch", "download", "b-1", "-o", str(target)], env=ENV)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == b"<Document>pain.001</Document>"

    serve(lambda request: httpx.Response(404, json={"title": "Resource not found", "detail": "no batch b-2"}))
    missing = tmp_path / "missing.xml"
    result = runner.invoke(app, ["payout", "batch", "download", "b-2", "-o", str(missing)], env=ENV)
    assert result.exit_code == 1 and "no batch b-2" in result.output
    assert list(tmp_path.iterdir()) == [target]


def test_a_statement_answer_is_shown_with_cents_as_euros(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]], tmp_path: Path
) -> None:
    answer = {"matched": [{"siren": "217500016", "amount_cents": 123456}], "unmatched": []}
    seen = serve(lambda request: httpx.Response(201, json=answer))
    statement = tmp_path / "camt053.xml"
    statement.write_bytes(b"<Document>camt</Document>")
    result = runner.invoke(app, ["contributions", "statement", str(statement)], env=ENV)
    assert result.exit_code == 0, result.output
    assert seen[0].headers["Content-Type"] == "application/xml"
    assert "1 234.56 €" in result.stdout and "217500016" in result.stdout


def test_euros_are_exact_from_cents() -> None:
    assert euros(0) == "0.00 €"
    assert euros(5) == "0.05 €"
    assert euros(-123456789) == "-1 234 567.89 €"


def test_dead_letter_topic_accepts_a_context_a_logical_topic_or_its_dlt() -> None:
    assert dead_letter_topic("ledger", "") == "dife.ledger.events.dlt"
    assert dead_letter_topic("dife.funding.events", "t1.") == "t1.dife.funding.events.dlt"
    assert dead_letter_topic("t1.dife.funding.events.dlt", "t1.") == "t1.dife.funding.events.dlt"


def letter(offset: int, headers: dict[str, str]) -> DeadLetter:
    return DeadLetter(
        partition=0,
        offset=offset,
        timestamp_ms=1_700_000_000_000 + offset,
        key=b"k",
        value=b"{}",
        headers=tuple((name, value.encode()) for name, value in headers.items()),
    )


def test_a_replay_keeps_the_cloudevents_headers_and_drops_the_dead_letter_ones() -> None:
    parked = letter(3, {"ce_id": "e-1", "ce_type": "t", "dlt_error": "boom", "dlt_original_topic": "x"})
    assert parked.replay_headers() == [("ce_id", b"e-1"), ("ce_type", b"t")]
    assert parked.original_topic == "x" and parked.ident == "e-1"


def test_an_event_dead_lettered_twice_is_replayed_once_from_its_last_letter() -> None:
    first, other, again = letter(1, {"ce_id": "e-1"}), letter(2, {}), letter(3, {"ce_id": "e-1"})
    assert latest_per_event([first, other, again]) == [other, again]
    assert other.ident == "@0:2"


def test_a_dead_letter_summary_names_its_origin_and_reason_for_scripts() -> None:
    parked = letter(
        4,
        {
            "ce_id": "e-9",
            "ce_type": "dife.payout.dife_capture_requested.v1",
            "dlt_error": "capture requested for a dossier without a hold (R-FUN-5)",
            "dlt_error_type": "PermanentEventError",
            "dlt_original_topic": "dife.payout.events",
            "dlt_original_partition": "2",
            "dlt_original_offset": "17",
            "dlt_consumer_group": "rights-ledger.holds",
        },
    )
    summary = parked.summary()
    assert summary["id"] == "e-9" and summary["type"] == "dife.payout.dife_capture_requested.v1"
    assert summary["error_type"] == "PermanentEventError" and summary["original_partition"] == 2
    assert summary["original_topic"] == "dife.payout.events" and summary["original_offset"] == "17"
    assert summary["first_seen"] == "2023-11-14T22:13:20.004000+00:00" and summary["key"] == "k"


def test_batch_build_shows_the_batch_and_release_posts_to_it(
    runner: CliRunner, serve: Callable[[Handler], list[httpx.Request]]
) -> None:
    built = {"batch": {"id": "b-1", "total_cents": 250_000, "payments": 3}, "detail": "built and validated"}
    seen = serve(lambda request: httpx.Response(201, json=built))
    result = runner.invoke(app, ["payout", "batch", "build"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "batch.total_cents" in result.stdout and "2 500.00 €" in result.stdout
    assert seen[0].headers["Idempotency-Key"]

    seen = serve(lambda request: httpx.Response(200, json={"id": "b-1", "status": "released"}))
    result = runner.invoke(app, ["payout", "batch", "release", "b-1"], env=ENV)
    assert result.exit_code == 0, result.output
    assert seen[0].method == "POST" and seen[0].url.path == "/v1/payment-batches/b-1/release"
    assert "released" in result.stdout
