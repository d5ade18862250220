"""How SecureString values are kept: encrypted at rest with AES-256-GCM under a key made once
per data directory (`ssm.key`, mode 0600), never stored in plaintext.

AWS encrypts a SecureString with a KMS key and answers GetParameter without
`WithDecryption` with the ciphertext, base64; Fireside has no KMS, so every KeyId (the
default `alias/aws/ssm` or one the caller names) is served by this one local key, and the
ciphertext form is `base64(nonce || ciphertext || tag)`. The parameter's account, region and
key are bound in as associated data, so a ciphertext copied to another parameter does not
decrypt.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fireside.store.durable import write_durably

__all__ = ["SecretBox"]

_NONCE: Final = 12


class SecretBox:
    def __init__(self, key_file: Path) -> None:
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            # mkstemp makes the file 0600 before a byte is written.
            write_durably(key_file, AESGCM.generate_key(bit_length=256))
        key = key_file.read_bytes()
        if len(key) != 32:
            raise RuntimeError(f"{key_file} is not a 256-bit key; restore it or remove it")
        os.chmod(key_file, 0o600)
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, scope: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), scope.encode())
        return base64.b64encode(nonce + sealed).decode()

    def open(self, ciphertext: str, scope: str) -> str:
        raw = base64.b64decode(ciphertext)
        return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], scope.encode()).decode()
