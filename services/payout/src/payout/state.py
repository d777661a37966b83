"""The typed state payout's routers and consumers share: the clock, the IBAN vault, the fund's account."""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.clock import Clock

from payout.adapters.sepa import Debtor
from payout.adapters.vault import Vault
from payout.settings import Settings


@dataclass(frozen=True)
class PayoutState:
    settings: Settings
    clock: Clock
    vault: Vault
    debtor: Debtor

    @classmethod
    def build(cls, settings: Settings, clock: Clock) -> PayoutState:
        return cls(
            settings=settings,
            clock=clock,
            vault=Vault(settings.iban_key.get_secret_value()),
            debtor=Debtor(settings.fund_name, settings.fund_iban, settings.fund_bic),
        )
