"""Password hashing (argon2id) and opaque bearer tokens that carry their account."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are RFC 9106's low-memory profile of argon2id.
_hasher = PasswordHasher()

TOKEN_PREFIX = "knotlog_"
_SECRET_BYTES = 32  # 256 random bits


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against this keeps a login for an unknown email as slow as a real one.
DUMMY_PASSWORD_HASH = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class IssuedToken:
    account_id: uuid.UUID
    secret_hash: bytes
    token: str  # shown to the client once, never stored


def new_token(account_id: uuid.UUID) -> IssuedToken:
    """A token is the account id (so lookups stay within one account) plus a random secret."""
    secret = secrets.token_bytes(_SECRET_BYTES)
    body = base64.urlsafe_b64encode(account_id.bytes + secret).rstrip(b"=").decode()
    return IssuedToken(account_id, hash_secret(secret), TOKEN_PREFIX + body)


def parse_token(token: str) -> tuple[uuid.UUID, bytes] | None:
    """Return (account id, secret hash) for a well-formed token, else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    body = token[len(TOKEN_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 16 + _SECRET_BYTES:
        return None
    return uuid.UUID(bytes=raw[:16]), hash_secret(raw[16:])


def hash_secret(secret: bytes) -> bytes:
    # A 256-bit random secret needs no slow hash: SHA-256 cannot be brute-forced back.
    return hashlib.sha256(secret).digest()
