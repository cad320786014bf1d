"""API keys, tenants, and each tenant's namespace of user ids.

A keys file (TOML) maps keys to tenants::

    [keys."sk-acme-1"]
    tenant = "acme"

    [keys."sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
    tenant = "globex"
    read_only = true

A key is written in plain text or as ``sha256:<hex>`` of it. Requests carry ``Authorization: Bearer <key>``;
the presented key is hashed and compared with every known digest by `hmac.compare_digest`, so the time taken
does not depend on how much of a key matched. Keys are never logged or echoed.

Tenant ``acme``'s user ``alice`` is stored as ``acme:alice``. Tenant names cannot contain ``:``, so the
first ``:`` always ends the tenant and two (tenant, user) pairs never map to the same stored id. Without a
keys file there are no tenants and user ids are stored as given.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from persona.errors import InvalidInputError
from persona.validation import MAX_USER_ID_CHARS, check_user_id

from .errors import AuthError, Forbidden

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with tomli (in the server extra)
    import tomli as tomllib

__all__ = ["SEPARATOR", "KeyRing", "Principal", "load_keys"]

SEPARATOR = ":"
_TENANT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant (None when the server has no keys) and whether its key may write."""

    tenant: str | None = None
    read_only: bool = False

    @property
    def prefix(self) -> str:
        return "" if self.tenant is None else f"{self.tenant}{SEPARATOR}"

    def inner(self, user_id: object) -> str:
        """The stored id of the caller's ``user_id`` (validated as the library does)."""
        user = check_user_id(user_id)
        if len(self.prefix) + len(user) > MAX_USER_ID_CHARS:
            raise InvalidInputError(
                f"user_id is {len(user):,} characters; the limit for this tenant is "
                f"{MAX_USER_ID_CHARS - len(self.prefix):,}."
            )
        return self.prefix + user

    def owns(self, stored_id: str) -> bool:
        return stored_id.startswith(self.prefix)

    def outer(self, stored_id: str) -> str:
        """The caller's own name for a stored user id."""
        return stored_id[len(self.prefix) :] if self.owns(stored_id) else stored_id

    def check_write(self) -> None:
        if self.read_only:
            raise Forbidden("this API key is read-only; use a key without read_only = true to change memories.")


@dataclass(frozen=True)
class _Entry:
    digest: bytes
    principal: Principal


class KeyRing:
    """The known keys, as sha256 digests. ``KeyRing(None)`` is the open server: everyone is the one principal."""

    def __init__(self, entries: list[_Entry] | None) -> None:
        self._entries = entries

    @property
    def enabled(self) -> bool:
        return self._entries is not None

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization`` header value; `AuthError` when missing or unknown."""
        if self._entries is None:
            return Principal()
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise AuthError("missing API key: send 'Authorization: Bearer <key>'.")
        digest = hashlib.sha256(key.strip().encode("utf-8", "surrogateescape")).digest()
        found: Principal | None = None
        for entry in self._entries:  # every entry is compared, match or not
            if hmac.compare_digest(entry.digest, digest):
                found = entry.principal
        if found is None:
            raise AuthError("invalid API key.")
        return found


def load_keys(path: str | Path | None) -> KeyRing:
    """Read a keys file (see the module docstring); ``InvalidInputError`` naming the problem (never the key)."""
    if path is None:
        return KeyRing(None)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"cannot read the keys file {path}: {exc.strerror or exc}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"the keys file {path} is not valid TOML: {exc}.") from None
    keys = data.get("keys")
    if not isinstance(keys, dict) or not keys:
        raise InvalidInputError(f'the keys file {path} has no [keys."<key>"] tables; add at least one.')
    entries = []
    for n, (key, table) in enumerate(keys.items(), 1):
        where = f"key #{n} in {path}"
        if not isinstance(table, dict):
            raise InvalidInputError(f'{where} must be a table: [keys."<key>"] with tenant = "<name>".')
        tenant, read_only = table.get("tenant"), table.get("read_only", False)
        if not isinstance(tenant, str) or not _TENANT.match(tenant):
            raise InvalidInputError(f"{where}: tenant must be 1-64 of A-Z a-z 0-9 _ . - (no ':'), got {tenant!r}.")
        if not isinstance(read_only, bool):
            raise InvalidInputError(f"{where}: read_only must be true or false.")
        if key.startswith("sha256:"):
            hexdigest = key.removeprefix("sha256:").lower()
            if not _HEX.match(hexdigest):
                raise InvalidInputError(f"{where}: a sha256: key needs 64 hex digits after 'sha256:'.")
            digest = bytes.fromhex(hexdigest)
        else:
            if not key.strip():
                raise InvalidInputError(f"{where}: the key is empty.")
            digest = hashlib.sha256(key.strip().encode("utf-8")).digest()
        entries.append(_Entry(digest, Principal(tenant=tenant, read_only=read_only)))
    return KeyRing(entries)
