"""Errors raised while reading events off the bus; a consumer sends such an event to the dead-letter topic."""


class ContractError(Exception):
    """Base of every error this package raises about an event on the wire."""


class InvalidEnvelope(ContractError, ValueError):
    """A Kafka record is not a CloudEvent in binary mode as DIFE publishes it (a header is missing or bad)."""


class UnknownEventType(ContractError, LookupError):
    """No payload model is registered for this `ce_type`."""

    def __init__(self, ce_type: str) -> None:
        super().__init__(f"unknown event type {ce_type!r}")
        self.ce_type = ce_type
