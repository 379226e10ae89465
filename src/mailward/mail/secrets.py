"""Reading the password out of pysasl credentials without keeping it anywhere."""

from __future__ import annotations

from pysasl.creds.server import ServerCredentials


class _SecretCatcher:
    """A pysasl identity that accepts any name and remembers the secret it is shown,
    so the password can be handed to the authenticator (pysasl only offers
    ``verify(identity)``, not the secret itself)."""

    def __init__(self, authcid: str) -> None:
        self._authcid = authcid
        self.secret: str | None = None

    @property
    def authcid(self) -> str:
        return self._authcid

    def compare_authcid(self, authcid: str) -> bool:
        return True

    def compare_secret(self, secret: str) -> bool:
        self.secret = secret
        return True

    def get_clear_secret(self) -> str | None:
        return None


def read_plain_credentials(credentials: ServerCredentials) -> tuple[str, str]:
    """``(login name, password)``; an empty password when the mechanism has none."""
    catcher = _SecretCatcher(credentials.authcid)
    try:
        credentials.verify(catcher)
    except Exception:  # a mechanism that cannot show its secret (none are enabled)
        return credentials.authcid, ""
    return credentials.authcid, catcher.secret or ""
