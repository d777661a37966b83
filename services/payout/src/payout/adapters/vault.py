"""Encryption at rest of IBANs and of the SEPA files that carry them (AES-256-GCM, `cryptography`).

The key comes from settings (`PAYOUT_IBAN_KEY`, 32 bytes base64). A keyed fingerprint (HMAC-SHA256 with a key
derived from the same secret) lets the service compare IBANs without decrypting them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class Vault:
    def __init__(self, key_b64: str) -> None:
        key = base64.b64decode(key_b64)
        if len(key) != 32:
            raise ValueError("the IBAN key must be 32 bytes, base64-encoded")
        self._aead = AESGCM(key)
        self._fingerprint_key = hashlib.sha256(b"payout-iban-fingerprint" + key).digest()

    def __repr__(self) -> str:
        return "Vault(<key>)"

    def seal(self, clear: bytes, *, purpose: bytes) -> bytes:
        """Nonce + ciphertext; `purpose` is bound as associated data (an IBAN cannot pass for a file)."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, clear, purpose)

    def open(self, sealed: bytes, *, purpose: bytes) -> bytes:
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], purpose)

    def seal_iban(self, iban: str) -> bytes:
        return self.seal(iban.encode(), purpose=b"iban")

    def open_iban(self, sealed: bytes) -> str:
        return self.open(sealed, purpose=b"iban").decode()

    def fingerprint(self, iban: str) -> str:
        return hmac.new(self._fingerprint_key, iban.encode(), hashlib.sha256).hexdigest()
