"""A small typed client of the DIFE platform's public REST APIs, as its front-ends and operators use them.

Journeys (`test_journeys.py`), the fault suite and the journey benchmark drive the six running services only
through this: no database, no Kafka publishing. Every step answers the service's JSON (a `dict`) or a small
dataclass naming what later steps need. A step that depends on events another service has not consumed yet
(a dossier for an offer the dossier service has not seen published, acceptance before `plan_ready`) is
retried until the read models caught up, within `settle_s`.

Time is the services' test clock (`servicekit.testclock`, `PUT /_test/clock` on each): `set_clock` moves all
six together; their job runners then fire the timers that came due.

Names are kept stable: other suites build on them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from servicekit.clock import FRENCH_WORKING_DAYS
from stdnum import luhn

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2027, 4, 6, 9, 0, tzinfo=PARIS)
"""Where the e2e platform's test clocks start: a Tuesday after the 2027 municipal campaign date (30 March,
R-ACC-3), so the campaign of the year can run, with July's and the next March's still ahead."""
SERVICES = ("rights-ledger", "catalogue", "dossier", "funding", "contributions", "payout")
DEV_PSP_SECRET = "funding-dev-only-psp-secret"
"""Funding's development PSP secret (`FUNDING_PSP_SECRETS` unset): the local provider signs with it."""
IBANS = ("FR7630004000000001234567845", "FR7620041000000000012345662", "FR7630002000000000065432164")
BIC = "BNPAFRPPXXX"

CM_HEADER = (
    "Code du département;Libellé du département;Code de la collectivité à statut particulier;"
    "Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;Nom de l'élu;"
    "Prénom de l'élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;"
    "Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;"
    "Date de début de la fonction;Code nationalité"
)

Mint = Callable[..., str]
"""`mint(sub=..., roles=[...], **claims) -> token`: servicekit.devtokens.mint_token, the platform's key."""


class StepFailed(AssertionError):
    """A step answered something else than the journey expects (the message carries the answer)."""


def _expect(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in statuses:
        raise StepFailed(
            f"{response.request.method} {response.request.url} → {response.status_code}: "
            + response.text[:2000]
        )
    if not response.content or "json" not in response.headers.get("content-type", ""):
        return None
    return response.json()


# --- identities -----------------------------------------------------------------------------------------

_sequence = itertools.count(uuid.uuid4().int % 400_000)
"""Serials of the people this process makes: distinct, so their NIRs are (one NIR links one account)."""


def siret_for(seed: int) -> str:
    """A SIRET (and its SIREN) that pass the Luhn checks, different for every seed."""
    siren = f"{52_000_000 + seed % 10_000_000:08d}"[-8:]
    siren += luhn.calc_check_digit(siren)
    return siren + "0001" + luhn.calc_check_digit(siren + "0001")


def siren_for(seed: int) -> str:
    siren = f"{21_000_000 + seed % 10_000_000:08d}"[-8:]
    return siren + luhn.calc_check_digit(siren)


def nir_for(person: Person) -> str:
    """A NIR that agrees with the person's sex and birth month (R-REG-3), unique per person of a run."""
    sex = "2" if person.gender == "female" else "1"
    serial = person.serial % (990 * 999)
    commune, order = 1 + serial // 999, 1 + serial % 999
    body = f"{sex}{person.birth_date:%y%m}75{commune:03d}{order:03d}"
    return body + f"{97 - int(body) % 97:02d}"


@dataclass(frozen=True)
class Person:
    """An élu as the RNE lists them: one municipal mandate in `commune_code` since `mandate_start`."""

    family_name: str
    given_name: str
    birth_date: date
    gender: str  # "female" | "male" (FranceConnect's claim)
    commune_code: str = "01001"
    mandate_start: date = date(2020, 6, 28)
    serial: int = 0

    @classmethod
    def new(cls, *, given_name: str = "Élise", gender: str = "female", commune_code: str = "01001") -> Person:
        serial = next(_sequence)
        return cls(
            family_name=f"E2E{uuid.uuid4().hex[:10].upper()}",
            given_name=given_name,
            birth_date=date(1961, 3, 5),
            gender=gender,
            commune_code=commune_code,
            serial=serial,
        )

    def cm_row(self) -> str:
        department, commune = self.commune_code[:2], self.commune_code[2:].lstrip("0") or "0"
        sex = "F" if self.gender == "female" else "M"
        return (
            f"{department};Département {department};;;{department}{commune.zfill(3)};"
            f"Commune {self.commune_code};"
            f"{self.family_name};{self.given_name};{sex};{self.birth_date:%d/%m/%Y};23;Cadres;"
            f"{self.mandate_start:%d/%m/%Y};;;FR"
        )


@dataclass(frozen=True)
class Elu:
    elu_id: str
    person: Person
    headers: dict[str, str]


@dataclass(frozen=True)
class Organisme:
    siret: str
    headers: dict[str, str]

    @property
    def siren(self) -> str:
        return self.siret[:9]


@dataclass(frozen=True)
class Offer:
    offer_id: str
    organisme: Organisme
    price_cents: int
    hours: str
    session_ids: tuple[str, ...]


@dataclass(frozen=True)
class Collectivite:
    siren: str
    headers: dict[str, str]


@dataclass
class Dife:
    """The platform as its users see it: one HTTP client, the services' base URLs, a token minter."""

    urls: Mapping[str, str]
    mint: Mint
    http: httpx.AsyncClient
    psp_secret: str = DEV_PSP_SECRET
    settle_s: float = 30.0
    agent: dict[str, str] = field(init=False)
    second_agent: dict[str, str] = field(init=False)
    ops: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.agent = self.headers("agent", sub="agent-e2e-1")
        self.second_agent = self.headers("agent", sub="agent-e2e-2")
        self.ops = self.headers("ops", sub="ops-e2e")

    @classmethod
    @asynccontextmanager
    async def connect(cls, urls: Mapping[str, str], mint: Mint, **options: Any) -> AsyncIterator[Dife]:
        async with httpx.AsyncClient(timeout=30) as http:
            yield cls(urls=urls, mint=mint, http=http, **options)

    def headers(self, *roles: str, sub: str | None = None, **claims: Any) -> dict[str, str]:
        token = self.mint(sub=sub or str(uuid.uuid4()), roles=list(roles), ttl_s=6 * 3600, **claims)
        return {"Authorization": f"Bearer {token}"}

    def url(self, service: str, path: str) -> str:
        return self.urls[service] + path

    async def call(
        self, method: str, service: str, path: str, *statuses: int, headers: dict[str, str], **kwargs: Any
    ) -> Any:
        try:
            response = await self.http.request(method, self.url(service, path), headers=headers, **kwargs)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            if method not in ("GET", "PUT"):
                raise
            # a kept-alive connection the server closed as it was reused: a safe request is sent again
            response = await self.http.request(method, self.url(service, path), headers=headers, **kwargs)
        return _expect(response, *(statuses or (200,)))

    async def until(
        self, what: str, probe: Callable[[], Awaitable[Any]], timeout_s: float | None = None
    ) -> Any:
        """Poll `probe` until it returns something truthy (its value), or fail naming `what`."""
        deadline = time.monotonic() + (timeout_s or self.settle_s)
        last: Any = None
        while time.monotonic() < deadline:
            last = await probe()
            if last:
                return last
            await asyncio.sleep(0.1)
        raise StepFailed(f"timed out waiting for {what} (last: {last!r})")

    # --- health -----------------------------------------------------------------------------------------

    async def readiness(self, service: str) -> dict[str, Any] | None:
        """The service's `/readyz` body once it answers 200 (database and Kafka reachable), else None: a
        probe to wait on (its Kafka check has a 2 s budget, which a loaded machine can miss)."""
        try:
            response = await self.http.get(self.url(service, "/readyz"))
        except httpx.TransportError:
            return None
        return dict(response.json()) if response.status_code == 200 else None

    async def openapi(self, service: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.call("GET", service, "/openapi.json", headers={})
        return body

    async def metrics(self, service: str) -> str:
        """The Prometheus exposition text of the service's `/metrics`."""
        response = await self.http.get(self.url(service, "/metrics"))
        _expect_ok(response)
        return response.text

    # --- the clock ---------------------------------------------------------------------------------------

    async def clock(self) -> datetime:
        body = await self.call("GET", "dossier", "/_test/clock", headers={})
        return datetime.fromisoformat(body["now"])

    async def today(self) -> date:
        return (await self.clock()).astimezone(PARIS).date()

    async def set_clock(self, at: datetime) -> None:
        """Put every service's clock at `at` (aware); their job runners wake and fire what came due."""
        await asyncio.gather(
            *(
                self.call("PUT", name, "/_test/clock", headers={}, json={"now": at.isoformat()})
                for name in self.urls
            )
        )

    async def set_paris_day(self, day: date, hour: int = 10) -> None:
        await self.set_clock(datetime(day.year, day.month, day.day, hour, tzinfo=PARIS))

    async def advance_working_days(self, count: int, hour: int = 10) -> date:
        """Move to the `count`-th working day after today (Paris), at `hour`; returns that day."""
        day = FRENCH_WORKING_DAYS.add_working_days(await self.today(), count)
        await self.set_paris_day(day, hour)
        return day

    # --- rights-ledger: registry, activation, campaign, account ---------------------------------------

    async def import_elus(
        self, people: Sequence[Person], *, snapshot_date: date | None = None, force: bool = True
    ) -> dict[str, Any]:
        """An RNE municipal snapshot listing `people` (an élu left out has their mandate ended)."""
        snapshot = snapshot_date or await self.today()
        body = "\n".join([CM_HEADER, *(p.cm_row() for p in people)]) + "\n"
        started = await self.call(
            "POST",
            "rights-ledger",
            f"/v1/registry/imports?file_type=cm&snapshot_date={snapshot}&force={str(force).lower()}",
            202,
            headers=self.agent,
            content=body.encode(),
        )
        job = await self.wait_job("rights-ledger", f"/v1/registry/imports/{started['id']}")
        if job["status"] != "succeeded":
            raise StepFailed(f"RNE import failed: {job}")
        return job

    async def wait_job(self, service: str, path: str, timeout_s: float = 120) -> dict[str, Any]:
        async def finished() -> dict[str, Any] | None:
            job = await self.call("GET", service, path, headers=self.agent)
            return job if job["status"] in ("succeeded", "failed") else None

        job: dict[str, Any] = await self.until(f"job {path}", finished, timeout_s)
        return job

    async def activate(self, person: Person) -> Elu:
        """The élu logs in (FranceConnect claims in the token) and activates their account with their NIR."""
        claims = {
            "family_name": person.family_name,
            "given_name": person.given_name,
            "birthdate": person.birth_date.isoformat(),
            "gender": person.gender,
        }
        subject = f"fc-{uuid.uuid4()}"
        activated = await self.call(
            "POST",
            "rights-ledger",
            "/v1/accounts/activation",
            200,
            201,
            headers=self.headers("elu", sub=subject, **claims),
            json={"nir": nir_for(person)},
        )
        elu_id = str(activated["elu_id"])
        return Elu(elu_id, person, self.headers("elu", sub=subject, elu_id=elu_id, **claims))

    async def run_campaign(self, family: str, year: int) -> dict[str, Any]:
        started = await self.call(
            "POST",
            "rights-ledger",
            "/v1/accrual-campaigns",
            202,
            headers=self.agent,
            json={"family": family, "year": year},
        )
        job = await self.wait_job("rights-ledger", f"/v1/accrual-campaigns/{started['id']}")
        if job["status"] != "succeeded":
            raise StepFailed(f"campaign failed: {job}")
        return job

    async def register_elus(self, count: int, *, year: int, **person: Any) -> list[Elu]:
        """`count` new élus: one RNE import, each activated, then the municipal campaign of `year`."""
        people = [Person.new(**person) for _ in range(count)]
        await self.import_elus(people)
        elus = [await self.activate(p) for p in people]
        await self.run_campaign("municipal", year)
        return elus

    async def register_former_elu(self, *, year: int, mandate_ended_on: date, **person: Any) -> Elu:
        """An élu whose only mandate ended on `mandate_ended_on` (R-END-1), credited by the campaign of `year`
        while it ran: imported, credited, then left out of an RNE snapshot of that day, then activated.

        Activating last puts `account_activated` after `elu_mandates_changed` on the élu's partition of the
        ledger topic, so once the dossier service accepts the élu (`submit`), it knows the mandate ended.
        The snapshot ends every other open municipal mandate of the platform's registry too (as every
        `import_elus` does): journeys register their own élus first."""
        former = Person.new(**person)
        await self.import_elus([former])
        await self.run_campaign("municipal", year)
        await self.import_elus([Person.new(**person)], snapshot_date=mandate_ended_on)
        return await self.activate(former)

    async def elu_record(self, elu: Elu) -> dict[str, Any]:
        """The registry's view of the élu (identity and mandates, with their `collectivite_code`)."""
        body: dict[str, Any] = await self.call(
            "GET", "rights-ledger", f"/v1/elus/{elu.elu_id}", headers=self.agent
        )
        return body

    async def account(self, elu: Elu) -> dict[str, Any]:
        body: dict[str, Any] = await self.call(
            "GET", "rights-ledger", f"/v1/accounts/{elu.elu_id}", headers=elu.headers
        )
        return body

    async def movements(self, elu: Elu) -> list[dict[str, Any]]:
        body = await self.call(
            "GET", "rights-ledger", f"/v1/accounts/{elu.elu_id}/movements?limit=200", headers=elu.headers
        )
        return list(body["items"])

    async def holds(self, elu: Elu) -> list[dict[str, Any]]:
        body = await self.call(
            "GET", "rights-ledger", f"/v1/accounts/{elu.elu_id}/holds?limit=100", headers=elu.headers
        )
        return list(body["items"] if isinstance(body, dict) else body)

    async def wait_account(self, elu: Elu, **expected: int) -> dict[str, Any]:
        """The account once every named field (`balance_cents=…`, `held_cents=…`) has the expected value."""

        async def matches() -> dict[str, Any] | None:
            account = await self.account(elu)
            return account if all(account[k] == v for k, v in expected.items()) else None

        account: dict[str, Any] = await self.until(f"account {elu.elu_id} with {expected}", matches)
        return account

    # --- catalogue: organisme, agrément, offer, sessions -----------------------------------------------

    async def register_organisme(self, *, agrement_from: date, agrement_until: date) -> Organisme:
        """An OF registered by an agent, with an agrément (R-OF-1) valid from/until the given days."""
        siret = siret_for(uuid.uuid4().int)
        await self.call(
            "POST",
            "catalogue",
            "/v1/organismes",
            201,
            headers=self.agent,
            json={
                "siret": siret,
                "name": f"Institut E2E {siret[:5]}",
                "nda": "84691234569",
                "address": {"city": "Bourg"},
            },
        )
        await self.call(
            "POST",
            "catalogue",
            f"/v1/organismes/{siret}/agrements",
            201,
            headers=self.agent,
            json={
                "reference": f"AGR-{siret}",
                "decision_date": agrement_from.isoformat(),
                "valid_from": agrement_from.isoformat(),
                "valid_until": agrement_until.isoformat(),
            },
        )
        return Organisme(siret, self.headers("organisme", sub=f"of-{siret}", siret=siret))

    async def publish_offer(
        self,
        organisme: Organisme,
        sessions: Iterable[tuple[date, date]],
        *,
        price_cents: int = 35_000,
        hours: str = "14",
        kind: str = "mandate",
        capacity: int = 15,
    ) -> Offer:
        """A published offer (VAT 0 %: its price is the dossier's price) with one session per (start, end)."""
        terms: dict[str, Any] = {
            "kind": kind,
            "title": f"Finances locales pour élus {uuid.uuid4().hex[:6]}",
            "summary": "Lire et voter un budget communal.",
            "hours": hours,
            "price_ht_cents": price_cents,
            "modality": "in_person",
            "location": {
                "commune_insee": "01053",
                "postal_code": "01000",
                "city": "Bourg-en-Bresse",
                "department": "01",
                "region": "84",
                "lat": 46.205,
                "lon": 5.2255,
            },
        }
        if kind == "mandate":
            terms["theme_code"] = "EPE-02"
        else:
            terms["certification_code"] = "RS5500"
        offer = await self.call("POST", "catalogue", "/v1/offers", 201, headers=organisme.headers, json=terms)
        session_ids = []
        for start, end in sessions:
            created = await self.call(
                "POST",
                "catalogue",
                f"/v1/offers/{offer['id']}/sessions",
                201,
                headers=organisme.headers,
                json={"start_date": start.isoformat(), "end_date": end.isoformat(), "capacity": capacity},
            )
            session_ids.append(str(created["id"]))
        await self.call("POST", "catalogue", f"/v1/offers/{offer['id']}/publish", headers=organisme.headers)
        return Offer(str(offer["id"]), organisme, price_cents, hours, tuple(session_ids))

    async def cancel_session(
        self, offer: Offer, session_id: str, reason: str = "formateur indisponible"
    ) -> Any:
        return await self.call(
            "POST",
            "catalogue",
            f"/v1/offers/{offer.offer_id}/sessions/{session_id}/cancel",
            200,
            headers=offer.organisme.headers,
            json={"reason": reason},
        )

    async def offer(self, offer_id: str) -> dict[str, Any]:
        """The public view of an offer, with its sessions and their `seats_left`."""
        body: dict[str, Any] = await self.call("GET", "catalogue", f"/v1/offers/{offer_id}", headers={})
        return body

    async def search_offers(self, **params: Any) -> list[dict[str, Any]]:
        """The public catalogue search (`q`, `department`, …), first page."""
        body = await self.call("GET", "catalogue", "/v1/offers", headers={}, params=params)
        return list(body["items"])

    # --- dossier -------------------------------------------------------------------------------------------

    async def submit(self, elu: Elu, offer: Offer, session_id: str | None = None) -> str:
        """The élu asks for a session; retried while the dossier service has not yet seen the offer or the
        élu's account (its read models follow the catalogue's and ledger's events)."""
        body = {"offer_id": offer.offer_id, "session_id": session_id or offer.session_ids[0]}
        headers = {**elu.headers, "Idempotency-Key": str(uuid.uuid4())}

        async def submitted() -> str | None:
            response = await self.http.post(self.url("dossier", "/v1/dossiers"), headers=headers, json=body)
            if response.status_code == 201:
                return str(response.json()["id"])
            waiting_for_events = response.status_code == 422 and all(
                rule.get("field") in ("offer_id", "session_id", "account", "mandate")
                for rule in response.json().get("rules", [])
            )
            if not waiting_for_events:
                _expect(response, 201)
            return None

        dossier_id: str = await self.until("the dossier service to know the offer and the élu", submitted)
        return dossier_id

    async def try_submit(self, elu: Elu, offer: Offer, session_id: str) -> httpx.Response:
        """One submission, not retried: the answer as it is (for a request the rules refuse)."""
        return await self.http.post(
            self.url("dossier", "/v1/dossiers"),
            headers={**elu.headers, "Idempotency-Key": str(uuid.uuid4())},
            json={"offer_id": offer.offer_id, "session_id": session_id},
        )

    async def dossier(self, dossier_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = await self.call(
            "GET", "dossier", f"/v1/dossiers/{dossier_id}", headers=headers or self.agent
        )
        return body

    async def wait_status(
        self, dossier_id: str, status: str, timeout_s: float | None = None
    ) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            dossier = await self.dossier(dossier_id)
            return dossier if dossier["status"] == status else None

        dossier: dict[str, Any] = await self.until(f"dossier {dossier_id} {status}", reached, timeout_s)
        return dossier

    async def _act(
        self, dossier_id: str, action: str, headers: dict[str, str], body: Any = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "POST", "dossier", f"/v1/dossiers/{dossier_id}/{action}", 200, 201, headers=headers, json=body
        )
        return result

    async def validate(self, organisme: Organisme, dossier_id: str) -> dict[str, Any]:
        return await self._act(dossier_id, "validation", organisme.headers)

    async def refuse(
        self, headers: dict[str, str], dossier_id: str, reason: str = "complet"
    ) -> dict[str, Any]:
        """A refusal by whoever's answer is awaited (the OF while submitted, the élu while validated)."""
        return await self._act(dossier_id, "refusal", headers, {"reason": reason})

    async def cancel(
        self,
        headers: dict[str, str],
        dossier_id: str,
        reason: str = "empêchement",
        *,
        force_majeure: bool = False,
    ) -> dict[str, Any]:
        return await self._act(
            dossier_id, "cancellation", headers, {"reason": reason, "force_majeure": force_majeure}
        )

    async def wait_plan_ready(self, dossier_id: str, timeout_s: float | None = None) -> dict[str, Any]:
        """The dossier once funding's `plan_ready` reached it (its plan is then stored on the dossier)."""

        async def ready() -> dict[str, Any] | None:
            dossier = await self.dossier(dossier_id)
            plan = dossier.get("plan")
            return dossier if plan and plan.get("status") == "ready" else None

        dossier: dict[str, Any] = await self.until(f"plan_ready of {dossier_id}", ready, timeout_s)
        return dossier

    async def accept(self, elu: Elu, dossier_id: str) -> dict[str, Any]:
        return await self._act(dossier_id, "acceptance", elu.headers)

    async def enter(self, organisme: Organisme, dossier_id: str, day: date) -> dict[str, Any]:
        return await self._act(dossier_id, "entry", organisme.headers, {"date": day.isoformat()})

    async def exit(
        self, organisme: Organisme, dossier_id: str, day: date, hours_attended: str
    ) -> dict[str, Any]:
        return await self._act(
            dossier_id, "exit", organisme.headers, {"date": day.isoformat(), "hours_attended": hours_attended}
        )

    async def open_control(
        self, dossier_id: str, kind: str = "quality", reason: str = "contrôle"
    ) -> dict[str, Any]:
        return await self._act(dossier_id, "controls", self.agent, {"kind": kind, "reason": reason})

    async def decide_control(self, control_id: str, outcome: str, reason: str = "vu") -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "POST",
            "dossier",
            f"/v1/controls/{control_id}/decision",
            200,
            201,
            headers=self.agent,
            json={"outcome": outcome, "reason": reason},
        )
        return result

    async def public_list(self, **params: Any) -> list[dict[str, Any]]:
        body = await self.call("GET", "dossier", "/v1/public/financed-trainings", headers={}, params=params)
        return list(body["items"])

    # --- funding ---------------------------------------------------------------------------------------

    async def plan(self, elu: Elu, dossier_id: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.call(
            "GET", "funding", f"/v1/plans/{dossier_id}", headers=elu.headers
        )
        return body

    async def wait_plan(self, elu: Elu, dossier_id: str, status: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            response = await self.http.get(
                self.url("funding", f"/v1/plans/{dossier_id}"), headers=elu.headers
            )
            if response.status_code == 404:
                return None
            plan = _expect(response, 200)
            return plan if plan["status"] == status else None

        plan: dict[str, Any] = await self.until(f"funding plan {dossier_id} {status}", reached)
        return plan

    async def card_payment(self, elu: Elu, dossier_id: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.call(
            "POST",
            "funding",
            f"/v1/plans/{dossier_id}/card-payment",
            200,
            201,
            headers={**elu.headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        return body

    async def psp_notify(
        self,
        intent_id: str,
        amount_cents: int,
        *,
        notification_id: str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """The provider's signed `payment.succeeded` (HMAC of `t.` + body, t = the services' clock)."""
        body = json.dumps(
            {
                "id": notification_id or f"evt_{uuid.uuid4().hex}",
                "type": "payment.succeeded",
                "intent_id": intent_id,
                "amount_cents": amount_cents,
                "provider_reference": f"pi_{uuid.uuid4().hex[:16]}",
            }
        ).encode()
        timestamp = int((await self.clock()).timestamp())
        signed = f"{timestamp}.".encode() + body
        digest = hmac.new((secret or self.psp_secret).encode(), signed, hashlib.sha256).hexdigest()
        return await self.http.post(
            self.url("funding", "/v1/psp/notifications"),
            content=body,
            headers={"Content-Type": "application/json", "Signature": f"t={timestamp},v1={digest}"},
        )

    async def add_external_commitment(
        self, elu: Elu, dossier_id: str, source: str, amount_cents: int
    ) -> dict[str, Any]:
        body: dict[str, Any] = await self.call(
            "POST",
            "funding",
            f"/v1/plans/{dossier_id}/external-commitments",
            200,
            201,
            headers={**elu.headers, "Idempotency-Key": str(uuid.uuid4())},
            json={
                "source": source,
                "reference": f"{source.upper()}-{uuid.uuid4().hex[:10]}",
                "amount_cents": amount_cents,
            },
        )
        return body

    def collectivite(self, siren: str | None = None) -> Collectivite:
        siren = siren or siren_for(uuid.uuid4().int)
        return Collectivite(siren, self.headers("collectivite", sub=f"col-{siren}", siren=siren))

    async def register_code_owner(self, collectivite_code: str, siren: str) -> None:
        """An agent records which SIREN owns the code an envelope covers (R-FUN-2)."""
        await self.call(
            "PUT",
            "funding",
            f"/v1/collectivite-codes/{collectivite_code}",
            200,
            headers=self.agent,
            json={"siren": siren},
        )

    async def open_envelope(
        self,
        collectivite: Collectivite,
        collectivite_code: str,
        *,
        budget_cents: int,
        per_elu_ceiling_cents: int,
        valid_from: date,
        valid_until: date,
        automatic: bool = True,
    ) -> dict[str, Any]:
        await self.register_code_owner(collectivite_code, collectivite.siren)
        body: dict[str, Any] = await self.call(
            "POST",
            "funding",
            "/v1/cofunding-envelopes",
            201,
            headers={**collectivite.headers, "Idempotency-Key": str(uuid.uuid4())},
            json={
                "collectivite_code": collectivite_code,
                "deliberation_reference": f"DCM-{uuid.uuid4().hex[:8]}",
                "deliberation_date": valid_from.isoformat(),
                "budget_cents": budget_cents,
                "per_elu_ceiling_cents": per_elu_ceiling_cents,
                "valid_from": valid_from.isoformat(),
                "valid_until": valid_until.isoformat(),
                "decision_mode": "automatic" if automatic else "manual",
            },
        )
        return body

    async def envelope(self, collectivite: Collectivite, envelope_id: str) -> dict[str, Any]:
        """A co-funding envelope as its collectivité sees it (`reserved_cents`, `remaining_cents`)."""
        body: dict[str, Any] = await self.call(
            "GET", "funding", f"/v1/cofunding-envelopes/{envelope_id}", headers=collectivite.headers
        )
        return body

    # --- contributions -------------------------------------------------------------------------------

    async def register_collectivite(
        self, *, kind: str = "commune", reference_annual_cents: int = 200_000
    ) -> Collectivite:
        """A collectivité the fund knows (registered by an agent); its token carries its SIREN."""
        collectivite = self.collectivite()
        await self.call(
            "POST",
            "contributions",
            "/v1/collectivites",
            201,
            headers={**self.agent, "Idempotency-Key": str(uuid.uuid4())},
            json={
                "siren": collectivite.siren,
                "name": f"Commune E2E {collectivite.siren}",
                "type": kind,
                "reference_annual_cents": reference_annual_cents,
            },
        )
        return collectivite

    async def declare(
        self, collectivite: Collectivite, period: str, lines: Sequence[tuple[str, int, str]]
    ) -> dict[str, Any]:
        """The collectivité declares its élus' allowances: `(month, gross_allowance_cents, elu_id)` lines."""
        body: dict[str, Any] = await self.call(
            "POST",
            "contributions",
            f"/v1/collectivites/{collectivite.siren}/declarations",
            201,
            headers={**collectivite.headers, "Idempotency-Key": str(uuid.uuid4())},
            json={
                "period": period,
                "lines": [
                    {"month": month, "gross_allowance_cents": cents, "elu_id": elu_id}
                    for month, cents, elu_id in lines
                ],
            },
        )
        return body

    async def record_contribution_payment(
        self, collectivite: Collectivite, period: str, amount_cents: int, received_on: date
    ) -> dict[str, Any]:
        body: dict[str, Any] = await self.call(
            "POST",
            "contributions",
            f"/v1/collectivites/{collectivite.siren}/payments",
            201,
            headers={**self.agent, "Idempotency-Key": str(uuid.uuid4())},
            json={"period": period, "amount_cents": amount_cents, "received_on": received_on.isoformat()},
        )
        return body

    async def periods(self, collectivite: Collectivite, year: int) -> dict[str, Any]:
        body: dict[str, Any] = await self.call(
            "GET",
            "contributions",
            f"/v1/collectivites/{collectivite.siren}/periods",
            headers=collectivite.headers,
            params={"year": year},
        )
        return body

    # --- payout ----------------------------------------------------------------------------------------

    async def verified_bank_details(self, organisme: Organisme, iban: str = IBANS[0]) -> dict[str, Any]:
        """The OF enters its bank details; an agent verifies them (four eyes: not who entered them)."""
        proposed = await self.call(
            "POST",
            "payout",
            f"/v1/organismes/{organisme.siret}/bank-details",
            201,
            headers={**organisme.headers, "Idempotency-Key": str(uuid.uuid4())},
            json={"iban": iban, "bic": BIC, "holder_name": "Institut de formation des élus"},
        )
        verified: dict[str, Any] = await self.call(
            "POST",
            "payout",
            f"/v1/bank-details/{proposed['id']}/decision",
            200,
            headers=self.agent,
            json={"decision": "verify"},
        )
        return verified

    async def payment(self, dossier_id: str) -> dict[str, Any] | None:
        """The OF's payment for a dossier, as agents see it (None while payout has not ordered it)."""
        cursor: str | None = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = await self.call("GET", "payout", "/v1/payments", headers=self.agent, params=params)
            for item in page["items"]:
                if item["dossier_id"] == dossier_id:
                    return dict(item)
            cursor = page.get("next_cursor")
            if not cursor:
                return None

    async def wait_payment(self, dossier_id: str, *statuses: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            payment = await self.payment(dossier_id)
            return payment if payment and (not statuses or payment["status"] in statuses) else None

        payment: dict[str, Any] = await self.until(f"payment of {dossier_id} in {statuses}", reached)
        return payment

    async def send_payment(self, dossier_id: str) -> dict[str, Any]:
        """Get the dossier's payment to the bank: build a batch if it is due (or re-payable), release it if
        the daily timer has not already; returns the payment, `sent`, with its batch and end-to-end id."""
        payment = await self.wait_payment(dossier_id, "due", "batched", "sent", "rejected")
        if payment["status"] in ("due", "rejected"):
            await self.call(
                "POST",
                "payout",
                "/v1/payment-batches",
                200,
                201,
                headers={**self.ops, "Idempotency-Key": str(uuid.uuid4())},
            )
            payment = await self.wait_payment(dossier_id, "batched", "sent")
        if payment["status"] == "batched":
            await self.call(
                "POST", "payout", f"/v1/payment-batches/{payment['batch_id']}/release", 200, headers=self.ops
            )
            payment = await self.wait_payment(dossier_id, "sent")
        return payment

    async def batch_file(self, batch_id: str) -> str:
        response = await self.http.get(
            self.url("payout", f"/v1/payment-batches/{batch_id}/file"), headers=self.ops
        )
        _expect_ok(response)
        return response.text

    async def bank_report(
        self, batch_id: str, verdicts: Sequence[tuple[str, str, str | None]]
    ) -> dict[str, Any]:
        """The bank's pain.002 for a batch: `(end_to_end_id, "ACSC" | "RJCT", reason)` per transfer."""
        pain001 = await self.batch_file(batch_id)
        found = re.search(r"<MsgId>([^<]+)</MsgId>", pain001)
        if not found:
            raise StepFailed(f"no MsgId in the batch file of {batch_id}")
        report: dict[str, Any] = await self.call(
            "POST",
            "payout",
            f"/v1/payment-batches/{batch_id}/status-report",
            200,
            201,
            headers={**self.ops, "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/xml"},
            content=pain002(found.group(1), verdicts),
        )
        return report

    async def settle(self, dossier_id: str) -> dict[str, Any]:
        """Send the payment and have the bank accept it; returns the payment, settled."""
        payment = await self.send_payment(dossier_id)
        await self.bank_report(payment["batch_id"], [(payment["end_to_end_id"], "ACSC", None)])
        return await self.wait_payment(dossier_id, "settled")

    async def fund_position(self, start: date, end: date) -> dict[str, Any]:
        body: dict[str, Any] = await self.call(
            "GET",
            "payout",
            "/v1/fund/position",
            headers=self.agent,
            params={"from": start.isoformat(), "to": end.isoformat()},
        )
        return body


def _expect_ok(response: httpx.Response) -> None:
    _expect(response, 200)


def pain002(message_id: str, verdicts: Sequence[tuple[str, str, str | None]]) -> bytes:
    """A pain.002.001.10 customer payment status report for the batch `message_id`."""
    transactions = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{status}</TxSts>"
        + (f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>" if reason else "")
        + "</TxInfAndSts>"
        for e2e, status, reason in verdicts
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>'
        f"<GrpHdr><MsgId>R-{uuid.uuid4().hex[:20]}</MsgId><CreDtTm>2027-01-16T10:00:00</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{message_id}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
        f"</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>{transactions}"
        "</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    ).encode()


def working_day_after(day: date, count: int) -> date:
    return FRENCH_WORKING_DAYS.add_working_days(day, count)


def next_monday(day: date, weeks: int = 1) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7 or 7) + timedelta(weeks=weeks - 1)
