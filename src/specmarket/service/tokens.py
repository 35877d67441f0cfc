"""Bearer tokens: random, stored only as SHA-256 hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Random bytes per token: 256 bits (the contract asks for at least 128).
TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh URL-safe token of :data:`TOKEN_BYTES` random bytes from :mod:`secrets`."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """Hex SHA-256 of ``token``: what the database stores and looks tokens up by. A fast hash
    suffices because tokens are 256 random bits, not passwords."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time equality of two hashes (:func:`hmac.compare_digest`)."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))
