"""Activation, reading and correcting an account; registering a pension.

Rules R-ACT-1, R-REG-3, R-ACC-2, R-END-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from dife_contracts.events import PensionLiquidated
from servicekit.auth import ELU_ID_CLAIM, Principal
from servicekit.clock import Clock
from servicekit.errors import Forbidden
from servicekit.rules import Conflict, NotFound, RuleBroken, RulesBroken

from rights_ledger.adapters.accounts import AccountState
from rights_ledger.adapters.elus import EluRecord, HoldRecord, JournalEntry
from rights_ledger.adapters.reads import AccountReader
from rights_ledger.domain.identity import VerifiedIdentity, identity_from_claims, normalise_name
from rights_ledger.domain.mandates import AccountStatus, mandate_training_allowed, reinsertion_until
from rights_ledger.domain.nir import InvalidNir, nir_disagreements, nir_hash
from rights_ledger.domain.parameters import parameters_at
from rights_ledger.domain.rne import pad_commune_code
from rights_ledger.use_cases.ports import Accounts, Elus, Outbox

NOT_LINKED = (
    "R-ACT-1: this login is not linked to this account (never activated by it, or its activation was "
    "revoked): an élu reads and acts only on the account their login activated"
)


def _ensure_owner_of(principal: Principal, elu_id: UUID, linked_subject: str | None) -> None:
    """R-ACT-1: staff see any account; an élu only the account their login is linked to **now**: the token's
    ``sub`` must be the subject the current activation recorded. A token naming the élu (``sub`` = elu_id,
    or an ``elu_id`` claim) is not enough: once an agent revokes the activation, the same token gets 403 at
    once, not when it expires. An ``elu_id`` claim naming another élu is refused too. The answer is the same
    whether the account exists, is another élu's or was revoked."""
    if principal.is_staff:
        return
    if not principal.has_role("elu"):
        raise Forbidden("only the élu concerned, an agent or ops may access this élu's data")
    claimed = principal.claims.get(ELU_ID_CLAIM)
    if claimed is not None and str(claimed) != str(elu_id):
        raise Forbidden(NOT_LINKED)
    if linked_subject is None or principal.sub != linked_subject:
        raise Forbidden(NOT_LINKED)


async def ensure_owner(accounts: Accounts, principal: Principal, elu_id: UUID) -> None:
    """R-ACT-1: the ownership check of every élu endpoint but the hot balance read (which folds the linked
    subject into its one query)."""
    if principal.is_staff:
        return
    linked = await accounts.linked_subject(elu_id) if principal.has_role("elu") else None
    _ensure_owner_of(principal, elu_id, linked)


@dataclass(frozen=True, slots=True)
class AccountView:
    elu_id: UUID
    status: str
    balance_cents: int
    held_cents: int
    available_cents: int
    cap_cents: int
    mandate_training_allowed: bool
    reinsertion_until: date | None


async def read_own_account(
    reader: AccountReader, principal: Principal, elu_id: UUID, today: date
) -> AccountView:
    """The account as its élu or staff sees it. Nothing tells an élu whether another élu's account exists:
    the ownership check comes first, so both answers are 403."""
    state = await reader.account(elu_id)
    _ensure_owner_of(principal, elu_id, state.subject if state else None)
    if state is None:
        raise NotFound("no account for this élu")
    return _view(state, today)


def _view(state: AccountState, today: date) -> AccountView:
    active = state.status == AccountStatus.ACTIVE
    return AccountView(
        elu_id=state.elu_id,
        status=state.status.value,
        balance_cents=state.balance_cents,
        held_cents=state.held_cents,
        available_cents=state.balance_cents - state.held_cents,
        cap_cents=parameters_at(today).cap_cents,
        mandate_training_allowed=active and mandate_training_allowed(state.mandates, today),
        reinsertion_until=reinsertion_until(state.mandates, state.pension_liquidated_on),
    )


async def _current_view(accounts: Accounts, elu_id: UUID, today: date) -> AccountView:
    state = await accounts.state_of(elu_id)
    if state is None:
        raise NotFound("no account for this élu")
    return _view(state, today)


async def activate(
    accounts: Accounts,
    elus: Elus,
    clock: Clock,
    principal: Principal,
    *,
    nir: str,
    nir_key: bytes,
    commune_code: str | None = None,
) -> AccountView:
    """R-ACT-1 / R-REG-3: the identity of the verified token must match exactly one élu, and the NIR (valid,
    and agreeing with that identity's sex, year and month of birth) links that élu's account to the caller."""
    identity = identity_from_claims(principal.claims)
    try:
        digest = nir_hash(nir, nir_key)
    except InvalidNir as error:
        raise RuleBroken("R-REG-3", str(error), field="nir") from None
    elu = _one_elu(await _matching(elus, identity), commune_code)
    sexes = [sex for sex in (identity.sex, elu.sex) if sex in ("M", "F")]
    disagreements = nir_disagreements(nir, birth_date=identity.birth_date, sexes=sexes)
    if disagreements:
        raise RulesBroken([RuleBroken("R-REG-3", why, field="nir") for why in disagreements])
    elu_id = elu.elu_id
    account = await accounts.lock(elu_id)
    if account is None:
        raise NotFound("no account for this élu")
    if account.status is not AccountStatus.ACTIVE and await accounts.linked_elsewhere(
        nir_hash=digest, subject=principal.sub, elu_id=elu_id
    ):
        raise Conflict("this NIR or this login is already linked to another account", rule_id="R-ACT-1")
    if account.activate(subject=principal.sub, nir_hash=digest, at=clock.now()):
        await accounts.save(account)
    return await _current_view(accounts, elu_id, clock.today())


async def _matching(elus: Elus, identity: VerifiedIdentity) -> list[EluRecord]:
    for person in identity.persons():
        found = await elus.matching(person)
        if found:
            return found
    return []


def _one_elu(matches: list[EluRecord], commune_code: str | None) -> EluRecord:
    """R-ACT-1: the one élu of the identity; homonyms are told apart by the commune of a mandate."""
    if not matches:
        raise RuleBroken("R-ACT-1", "the verified identity matches no élu of the registry")
    if len(matches) > 1 and commune_code is not None:
        commune = pad_commune_code(commune_code)
        matches = [e for e in matches if any(m.collectivite_code == commune for m in e.mandates)]
        if len(matches) != 1:
            raise RuleBroken(
                "R-ACT-1", "no élu of this identity holds a mandate in that commune", field="commune_code"
            )
    if len(matches) > 1:
        raise RuleBroken(
            "R-ACT-1",
            f"{len(matches)} élus share this identity (homonyms): give the INSEE code of the commune of one "
            "of your mandates as commune_code",
            field="commune_code",
        )
    return matches[0]


@dataclass(frozen=True, slots=True)
class Adjusted:
    movement_id: UUID
    adjustment_id: UUID
    value_date: date
    balance_after_cents: int


async def adjust(
    accounts: Accounts, clock: Clock, principal: Principal, elu_id: UUID, *, amount_cents: int, reason: str
) -> Adjusted:
    """Audited correction by an agent: never below the holds (so never below 0), never above the cap."""
    account = await accounts.lock(elu_id)
    if account is None:
        raise NotFound("no account for this élu")
    cap = parameters_at(clock.today()).cap_cents
    movement = account.adjust_by_agent(amount_cents, cap, clock.now(), reason, by=principal.sub)
    await accounts.save(account, actor=principal.sub)
    if movement.adjustment_id is None:
        raise AssertionError("an adjustment movement names its adjustment")
    return Adjusted(movement.id, movement.adjustment_id, movement.value_date, account.balance_cents)


async def revoke_activation(
    accounts: Accounts, clock: Clock, principal: Principal, elu_id: UUID, *, reason: str
) -> AccountView:
    """R-ACT-1: an agent gives a wrongly linked account back (audited with the reason)."""
    account = await accounts.lock(elu_id)
    if account is None:
        raise NotFound("no account for this élu")
    account.revoke_activation(reason=reason, by=principal.sub, at=clock.now())
    await accounts.save(account, actor=principal.sub)
    return await _current_view(accounts, elu_id, clock.today())


async def record_pension(elus: Elus, outbox: Outbox, elu_id: UUID, liquidated_on: date) -> None:
    """R-END-1: a liquidated pension closes the reinsertion window; the dossier learns it by an event."""
    if not await elus.set_pension(elu_id, liquidated_on):
        raise NotFound("no such élu")
    await outbox.add(PensionLiquidated(elu_id=elu_id, liquidated_on=liquidated_on))


async def movements_page(
    accounts: Accounts, elus: Elus, principal: Principal, elu_id: UUID, *, after_seq: int | None, limit: int
) -> list[JournalEntry]:
    await ensure_owner(accounts, principal, elu_id)
    return await elus.journal_page(elu_id, after_seq=after_seq, limit=limit)


async def holds_of(
    accounts: Accounts, elus: Elus, principal: Principal, elu_id: UUID, *, limit: int
) -> list[HoldRecord]:
    """R-FUN-1 / R-FUN-5: the élu's holds (pending, posted, voided) and refused requests with their reason."""
    await ensure_owner(accounts, principal, elu_id)
    return await elus.holds_of(elu_id, limit=limit)


async def find_elus(
    elus: Elus,
    *,
    family_name: str | None,
    given_names: str | None,
    birth_date: date | None,
    after: UUID | None,
    limit: int,
) -> list[EluRecord]:
    """R-REG-2: names are compared normalised (case, accents, hyphens, spaces)."""
    return await elus.search(
        family_key=normalise_name(family_name) if family_name else None,
        given_key=normalise_name(given_names) if given_names else None,
        birth_date=birth_date,
        after=after,
        limit=limit,
    )


async def get_elu(accounts: Accounts, elus: Elus, principal: Principal, elu_id: UUID) -> EluRecord:
    await ensure_owner(accounts, principal, elu_id)
    found = await elus.get(elu_id)
    if found is None:
        raise NotFound("no such élu")
    return found
