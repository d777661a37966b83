"""Entry point of the `dife` command: operate the platform over the services' REST APIs and Kafka.

Every command fails with one readable sentence and exit code 1 (never a traceback): the problem+json
`detail` and rule ids of a refusal, or the URL that could not be reached. Set `DIFE_CLI_DEBUG=1` to get the
traceback of an unexpected error.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from dife_cli import SERVICES
from dife_cli.common import Cli, cli_of, operator_errors
from dife_cli.dlt import dlt_app
from dife_cli.errors import CliError

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Operate the DIFE platform: imports, campaigns, jobs, SEPA batches, bank files, dead letters.",
)
registry_app = typer.Typer(no_args_is_help=True, help="The RNE registry (rights-ledger).")
campaign_app = typer.Typer(no_args_is_help=True, help="Annual crediting campaigns (rights-ledger).")
expiry_app = typer.Typer(no_args_is_help=True, help="Expiry of rights (rights-ledger).")
jobs_app = typer.Typer(no_args_is_help=True, help="Background jobs of every service.")
payout_app = typer.Typer(no_args_is_help=True, help="Payments to training organisations (payout).")
batch_app = typer.Typer(no_args_is_help=True, help="SEPA credit-transfer batches (pain.001, pain.002).")
contributions_app = typer.Typer(no_args_is_help=True, help="The 1 % contributions (contributions).")
fund_app = typer.Typer(no_args_is_help=True, help="The fund (payout).")
app.add_typer(registry_app, name="registry")
app.add_typer(campaign_app, name="campaign")
app.add_typer(expiry_app, name="expiry")
app.add_typer(jobs_app, name="jobs")
app.add_typer(payout_app, name="payout")
payout_app.add_typer(batch_app, name="batch")
app.add_typer(contributions_app, name="contributions")
app.add_typer(fund_app, name="fund")

if TYPE_CHECKING:
    from dife_cli.client import ServiceClient

PARIS = ZoneInfo("Europe/Paris")
UPLOAD_CHUNK = 1 << 20


@app.callback()
def root(
    ctx: typer.Context,
    ledger_url: Annotated[str | None, typer.Option(help="default $DIFE_CLI_LEDGER_URL or :8001")] = None,
    catalogue_url: Annotated[
        str | None, typer.Option(help="default $DIFE_CLI_CATALOGUE_URL or :8002")
    ] = None,
    dossier_url: Annotated[str | None, typer.Option(help="default $DIFE_CLI_DOSSIER_URL or :8003")] = None,
    funding_url: Annotated[str | None, typer.Option(help="default $DIFE_CLI_FUNDING_URL or :8004")] = None,
    contributions_url: Annotated[
        str | None, typer.Option(help="default $DIFE_CLI_CONTRIBUTIONS_URL or :8005")
    ] = None,
    payout_url: Annotated[str | None, typer.Option(help="default $DIFE_CLI_PAYOUT_URL or :8006")] = None,
    token: Annotated[
        str | None, typer.Option(help="bearer token (default $DIFE_CLI_TOKEN, else a local agent+ops token)")
    ] = None,
    kafka: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers (default $DIFE_CLI_KAFKA_BOOTSTRAP_SERVERS)")
    ] = None,
    topic_prefix: Annotated[
        str | None, typer.Option(help="prefix of every topic (default $DIFE_CLI_TOPIC_PREFIX, none)")
    ] = None,
) -> None:
    flags = {
        "ledger_url": ledger_url,
        "catalogue_url": catalogue_url,
        "dossier_url": dossier_url,
        "funding_url": funding_url,
        "contributions_url": contributions_url,
        "payout_url": payout_url,
        "token": token,
        "kafka_bootstrap_servers": kafka,
        "topic_prefix": topic_prefix,
    }
    ctx.obj = Cli({name: value for name, value in flags.items() if value is not None})


# --- tokens -------------------------------------------------------------------------------------------------


@app.command()
@operator_errors
def token(
    ctx: typer.Context,
    role: Annotated[list[str], typer.Option(help="elu, organisme, collectivite, agent or ops; repeatable")],
    sub: Annotated[str | None, typer.Option(help="subject (default: the elu_id, or dev-<role>)")] = None,
    elu_id: Annotated[str | None, typer.Option(help="elu_id claim (an activated élu)")] = None,
    siret: Annotated[str | None, typer.Option(help="SIRET claim (organisme)")] = None,
    siren: Annotated[str | None, typer.Option(help="SIREN claim (collectivité)")] = None,
    family_name: Annotated[str | None, typer.Option(help="FranceConnect family_name")] = None,
    given_name: Annotated[str | None, typer.Option(help="FranceConnect given_name")] = None,
    birthdate: Annotated[str | None, typer.Option(help="FranceConnect birthdate, YYYY-MM-DD")] = None,
    gender: Annotated[str | None, typer.Option(help="FranceConnect gender: male or female")] = None,
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 3600,
    count: Annotated[int, typer.Option(min=1, help="how many tokens (one a line)")] = 1,
) -> None:
    """Print bearer tokens signed with the local development key (accepted by every local service)."""
    from dife_cli.tokens import ROLES, Identity, Minter, load_dev_private_pem

    unknown = sorted(set(role) - set(ROLES))
    if unknown:
        raise CliError(f"unknown role(s) {', '.join(unknown)}; the roles are {', '.join(ROLES)}")
    if birthdate is not None:
        _parse_date(birthdate, "--birthdate")
    settings = cli_of(ctx).settings
    minter = Minter(
        load_dev_private_pem(settings.keys_dir), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    identity = Identity(
        sub=sub,
        elu_id=elu_id,
        siret=siret,
        siren=siren,
        family_name=family_name,
        given_name=given_name,
        birthdate=birthdate,
        gender=gender,
    )
    sys.stdout.write("".join(minter.mint(role, identity, ttl_s=ttl) + "\n" for _ in range(count)))


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{option} must be a date YYYY-MM-DD, not {text!r}") from None


# --- the registry, campaigns, expiry ------------------------------------------------------------------------


IMPORTS_PATH = "/v1/registry/imports"


@registry_app.command("import")
@operator_errors
def registry_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the RNE CSV")],
    type_: Annotated[str, typer.Option("--type", help="RNE file type: cm, epci, cd, cr, csp, ca")],
    snapshot_date: Annotated[str, typer.Option(help="date of the RNE snapshot, YYYY-MM-DD")],
    dry_run: Annotated[bool, typer.Option(help="report what would change, change nothing")] = False,
    force: Annotated[bool, typer.Option(help="apply a snapshot the ledger finds implausible")] = False,
    rejected_csv: Annotated[Path | None, typer.Option(help="write the rejected lines to this CSV")] = None,
    wait: Annotated[bool, typer.Option(help="follow the job to its end")] = True,
) -> None:
    """Upload an RNE file (streamed, with progress), then follow the import job and print its report."""
    cli = cli_of(ctx)
    _parse_date(snapshot_date, "--snapshot-date")
    params: dict[str, str] = {"file_type": type_, "snapshot_date": snapshot_date}
    with cli.client("ledger") as ledger:
        wanted = [flag for flag, on in (("dry_run", dry_run), ("force", force)) if on]
        if wanted:
            _ensure_accepted(ledger, "post", IMPORTS_PATH, wanted)
            params.update({flag: "true" for flag in wanted})
        size = file.stat().st_size
        job = ledger.json(
            "POST",
            IMPORTS_PATH,
            params=params,
            content=_read_with_progress(file, size),
            headers={
                "Content-Type": "text/csv",
                "Content-Length": str(size),
                "Idempotency-Key": str(uuid.uuid4()),
            },
        )
        _after_start(cli, ledger, job, IMPORTS_PATH, wait=wait, rejected_csv=rejected_csv)


def _ensure_accepted(client: ServiceClient, method: str, path: str, flags: list[str]) -> None:
    """Refuse before sending when the service does not know a flag: ignored, a dry run would import."""
    openapi = client.json("GET", "/openapi.json")
    operation = (openapi.get("paths", {}).get(path) or {}).get(method) or {}
    known = {parameter.get("name") for parameter in operation.get("parameters", [])}
    missing = [flag for flag in flags if flag not in known]
    if missing:
        raise CliError(
            f"the {client.name} service at {client.base_url} does not accept {', '.join(missing)} on "
            f"{method.upper()} {path} (not in its OpenAPI); nothing was sent"
        )


def _read_with_progress(file: Path, size: int) -> Iterator[bytes]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    from dife_cli.render import err

    with (
        Progress(
            TextColumn("upload {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=err,
        ) as progress,
        file.open("rb") as stream,
    ):
        task = progress.add_task(file.name, total=size)
        while chunk := stream.read(UPLOAD_CHUNK):
            progress.advance(task, len(chunk))
            yield chunk


def _after_start(
    cli: Cli,
    client: ServiceClient,
    job: Any,
    path: str,
    *,
    wait: bool = True,
    rejected_csv: Path | None = None,
) -> None:
    from dife_cli.jobs import conclude, follow, is_job
    from dife_cli.render import out, show

    if not is_job(job):
        show(job)
        return
    if not wait:
        out.print(f"job {job['id']} ({job['kind']}) {job['status']}: `dife jobs show {job['id']}` follows it")
        return
    settings = cli.settings
    finished = follow(
        client, job, path=path, poll_s=settings.poll_interval_s, timeout_s=settings.job_timeout_s
    )
    conclude(finished, rejected_csv=rejected_csv)


CAMPAIGNS_PATH = "/v1/accrual-campaigns"
EXPIRY_PATH = "/v1/expiry-runs"


@campaign_app.command("run")
@operator_errors
def campaign_run(
    ctx: typer.Context,
    family: Annotated[str, typer.Option(help="municipal or other (R-ACC-3)")],
    year: Annotated[int, typer.Option(help="the year credited")],
    wait: Annotated[bool, typer.Option(help="follow the job to its end")] = True,
) -> None:
    """Credit a year's rights to one family of élus (R-ACC-1..4); running it twice credits nobody twice."""
    cli = cli_of(ctx)
    with cli.client("ledger") as ledger:
        job = ledger.json(
            "POST",
            CAMPAIGNS_PATH,
            json={"family": family, "year": year},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        _after_start(cli, ledger, job, CAMPAIGNS_PATH, wait=wait)


@expiry_app.command("run")
@operator_errors
def expiry_run(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today in Paris)")] = None,
    wait: Annotated[bool, typer.Option(help="follow the job to its end")] = True,
) -> None:
    """Expire the balances whose window is over (R-END-1), as explicit movements."""
    cli = cli_of(ctx)
    day = _parse_date(as_of, "--as-of") if as_of else datetime.now(PARIS).date()
    with cli.client("ledger") as ledger:
        job = ledger.json(
            "POST",
            EXPIRY_PATH,
            json={"as_of": day.isoformat()},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        _after_start(cli, ledger, job, EXPIRY_PATH, wait=wait)


# --- jobs ---------------------------------------------------------------------------------------------------

JOB_COLUMNS = ("id", "kind", "status", "rows_done", "rows_total", "created_at", "finished_at", "error")


def _services(service: str | None) -> list[str]:
    if service is None:
        return list(SERVICES)
    if service not in SERVICES:
        raise CliError(f"unknown service {service!r}; the services are {', '.join(SERVICES)}")
    return [service]


@jobs_app.command("list")
@operator_errors
def jobs_list(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Option(help=f"one of {', '.join(SERVICES)} (default: all)")] = None,
    kind: Annotated[str | None, typer.Option(help="e.g. rne_import, accrual_campaign")] = None,
    status: Annotated[str | None, typer.Option(help="pending, running, succeeded, failed, cancelled")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """The newest jobs of one service, or of every service that answers."""
    from dife_cli.render import err, show_rows

    cli = cli_of(ctx)
    params = {name: value for name, value in (("kind", kind), ("status", status)) if value}
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    names = _services(service)
    for name in names:
        with cli.client(name) as client:
            try:
                page = client.json("GET", "/v1/jobs", params={**params, "limit": limit})
            except CliError as error:
                if len(names) == 1:
                    raise
                failures.append(error.message)
                continue
        rows += [{"service": name, **{c: job.get(c) for c in JOB_COLUMNS}} for job in page["items"]]
    for failure in failures:
        err.print(f"[yellow]skipped:[/yellow] {failure}", highlight=False)
    if failures and len(failures) == len(names):
        raise CliError("no service answered")
    show_rows(rows, title="jobs")


@jobs_app.command("show")
@operator_errors
def jobs_show(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="the job's id")],
    service: Annotated[str | None, typer.Option(help="where the job runs (default: ask each)")] = None,
    rejected_csv: Annotated[Path | None, typer.Option(help="write rejected lines to this CSV")] = None,
) -> None:
    """A job's status, progress and report (a failed job exits 1 with its error)."""
    from dife_cli.jobs import conclude
    from dife_cli.render import show

    cli = cli_of(ctx)
    names = _services(service)
    for name in names:
        with cli.client(name) as client:
            try:
                job = client.json("GET", f"/v1/jobs/{job_id}")
            except CliError:
                if len(names) == 1:
                    raise
                continue
        show({key: job.get(key) for key in ("id", "kind", "status", "params", "rows_done", "rows_total")})
        conclude(job, rejected_csv=rejected_csv)
        return
    raise CliError(f"no service knows a job {job_id}")


# --- payout, contributions, fund ----------------------------------------------------------------------------

BATCHES_PATH = "/v1/payment-batches"


@batch_app.command("build")
@operator_errors
def batch_build(ctx: typer.Context) -> None:
    """Build now a SEPA batch (pain.001) of every payment due."""
    cli = cli_of(ctx)
    with cli.client("payout") as payout:
        answer = payout.json("POST", BATCHES_PATH, json={}, headers={"Idempotency-Key": str(uuid.uuid4())})
        _show_answer(cli, payout, answer, "payment batch")


@batch_app.command("release")
@operator_errors
def batch_release(
    ctx: typer.Context, batch_id: Annotated[str, typer.Argument(help="the batch's id")]
) -> None:
    """Release a built batch to the bank: its payments are sent (payment_sent)."""
    from dife_cli.render import show

    with cli_of(ctx).client("payout") as payout:
        show(payout.json("POST", f"{BATCHES_PATH}/{batch_id}/release"), title="payment batch")


@batch_app.command("download")
@operator_errors
def batch_download(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="the batch's id")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="default: <id>.xml")] = None,
) -> None:
    """Save a batch's pain.001 XML file."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from dife_cli.render import err, out

    cli = cli_of(ctx)
    target = output or Path(f"{batch_id}.xml")
    partial = target.with_name(target.name + ".part")
    with (
        cli.client("payout") as payout,
        Progress(TextColumn("download"), BarColumn(), DownloadColumn(), console=err) as progress,
    ):
        task = progress.add_task(batch_id, total=None)
        try:
            with partial.open("wb") as file:
                for total, chunk in payout.stream_to(f"{BATCHES_PATH}/{batch_id}/file"):
                    progress.update(task, total=total, advance=len(chunk))
                    file.write(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    partial.replace(target)
    out.print(f"batch {batch_id} saved to {target} ({target.stat().st_size} bytes)")


@batch_app.command("status-report")
@operator_errors
def batch_status_report(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="the batch's id")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the bank's pain.002 XML")],
) -> None:
    """Import the bank's pain.002 status report of a batch: settled and rejected payments."""
    _post_xml(cli_of(ctx), "payout", f"{BATCHES_PATH}/{batch_id}/status-report", file, "status report")


@contributions_app.command("statement")
@operator_errors
def contributions_statement(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the fund's camt.053 XML")],
) -> None:
    """Import the fund's bank statement (camt.053): credits matched to periods, the rest listed."""
    _post_xml(cli_of(ctx), "contributions", "/v1/bank-statements", file, "bank statement")


def _post_xml(cli: Cli, service: str, path: str, file: Path, title: str) -> None:
    with cli.client(service) as client:
        answer = client.json(
            "POST",
            path,
            content=file.read_bytes(),
            headers={"Content-Type": "application/xml", "Idempotency-Key": str(uuid.uuid4())},
        )
        _show_answer(cli, client, answer, title)


def _show_answer(cli: Cli, client: ServiceClient, answer: Any, title: str) -> None:
    """A service may answer with the resource, or with a job doing the work: follow the job then."""
    from dife_cli.jobs import is_job
    from dife_cli.render import show

    if is_job(answer):
        _after_start(cli, client, answer, "/v1/jobs")
    else:
        show(answer, title=title)


@fund_app.command("position")
@operator_errors
def fund_position(
    ctx: typer.Context,
    from_: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    to: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
) -> None:
    """The fund's position over a period: contributions in, payments out, commitments."""
    from dife_cli.render import show

    params = {}
    if from_:
        params["from"] = _parse_date(from_, "--from").isoformat()
    if to:
        params["to"] = _parse_date(to, "--to").isoformat()
    with cli_of(ctx).client("payout") as payout:
        show(payout.json("GET", "/v1/fund/position", params=params), title="fund position")


app.add_typer(dlt_app, name="dlt")
