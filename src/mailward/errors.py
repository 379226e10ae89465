"""Domain errors. They carry data and no transport; each edge maps them once."""

from __future__ import annotations

from dataclasses import dataclass, field


class MailwardError(Exception):
    """Base of every error a user can cause; ``str()`` is one clear sentence."""

    code = "error"


class InvalidInput(MailwardError):
    code = "invalid-input"

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class KeyedError(MailwardError):
    """An error about one thing: its ``kind`` ("device", "address") and ``key``."""

    message = "{kind} {key!s}"

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(self.message.format(kind=kind, key=key))
        self.kind = kind
        self.key = key


class NotFound(KeyedError):
    code = "not-found"
    message = "no {kind} {key!s}"


class AlreadyExists(KeyedError):
    code = "already-exists"
    message = "{kind} {key!s} already exists"


@dataclass
class NotAllowed(MailwardError):
    """The actor lacks the right; says who has it and what to ask them for."""

    action: str
    organization: str | None = None
    who_can: list[str] = field(default_factory=list)
    code = "not-allowed"

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" in {self.organization}" if self.organization else ""
        who = ", ".join(self.who_can) if self.who_can else "an administrator"
        return (
            f"you may not {self.action}{where}: only the organization's administrators and "
            f"legal representatives can ({who}); ask one of them to do it for you"
        )


class WeakPassword(InvalidInput):
    code = "weak-password"

    def __init__(self, reason: str) -> None:
        super().__init__("password", reason)


class Conflict(MailwardError):
    code = "conflict"
