"""What every command shares: settings from global options, services, output, errors."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from mailward.bootstrap import Services, build_services
from mailward.core.access.actors import Actor
from mailward.core.organizations.service import OrganizationView
from mailward.errors import InvalidInput, MailwardError
from mailward.keys import KeyFileError
from mailward.settings import Settings

T = TypeVar("T")
OPERATOR = Actor.operator()
# The options many commands share.
JsonFlag = Annotated[bool, typer.Option("--json")]
Organization = Annotated[str, typer.Option(help="organization name or id")]


@dataclasses.dataclass
class GlobalOptions:
    data_dir: Path | None = None
    database_url: str | None = None

    def settings(self) -> Settings:
        overrides: dict[str, Any] = {}
        if self.data_dir is not None:
            overrides["data_dir"] = self.data_dir
        if self.database_url is not None:
            overrides["database_url"] = self.database_url
        try:
            return Settings(**overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
            fail(f"invalid configuration: {where}: {first.get('msg')}")


def options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def run_for_organization(
    ctx: typer.Context, org: str, use: Callable[[Services, OrganizationView], Awaitable[T]]
) -> T:
    """``run_with_services`` for a command about the organization ``org`` (name or id)."""

    async def resolved(services: Services) -> T:
        return await use(services, await services.organizations.resolve(OPERATOR, org))

    return run_with_services(ctx, resolved)


def require_data_dir(settings: Settings) -> None:
    """Refuse to work on a data directory that does not exist: run from elsewhere without
    MAILWARD_DATA_DIR, a command would otherwise start a new, empty installation."""
    if settings.data_dir.is_dir():
        return
    fail(
        f"no data directory at {settings.data_dir.resolve()}: run mailward from the "
        "directory that holds mailward-data, or set MAILWARD_DATA_DIR (or --data-dir); "
        "`mailward init` or `mailward quickstart` creates a new one"
    )


def run_with_services(
    ctx: typer.Context,
    use: Callable[[Services], Awaitable[T]],
    creates_data_dir: bool = False,
) -> T:
    """Open the services, run one use, close; domain errors become one clear line. Only
    a command that ``creates_data_dir`` (init, quickstart) may start a new one."""
    settings = options(ctx).settings()
    if not creates_data_dir:
        require_data_dir(settings)
    where = f"(data directory {settings.data_dir.resolve()})"

    async def main() -> T:
        services = await build_services(settings)
        services.send_security_notices()  # spooled; the serving node's worker sends them
        try:
            return await use(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except MailwardError as exc:
        fail(f"{exc} {where}")
    except KeyFileError as exc:
        fail(f"{exc} {where}")
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ") + f" {where}")


def read_password(from_stdin: bool, prompt: str = "Password") -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        if not password:
            fail("no password on standard input")
        return password
    if not sys.stdin.isatty():
        fail("standard input is not a terminal: pass the password with --password-stdin")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


def parse_when(value: str | None, field_name: str = "expires") -> datetime | None:
    """``2026-12-01`` (end of that day, UTC) or a full ISO 8601 time."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field_name, f"{value!r} is not a date (YYYY-MM-DD)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def split_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def print_json(value: Any) -> None:
    typer.echo(json.dumps(_plain(value), indent=2, ensure_ascii=False))


def print_rows(items: Sequence[T], as_json: bool, line: Callable[[T], str]) -> None:
    """A listing: the items as a JSON array, or one tab-separated line each."""
    if as_json:
        print_json(list(items))
        return
    for item in items:
        typer.echo(line(item))
