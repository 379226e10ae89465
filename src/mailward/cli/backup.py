"""``mailward backup`` and ``mailward restore``: one line on success, one line of error
(and a non-zero exit) otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from mailward.backup.backup import make_backup
from mailward.backup.manifest import BackupError
from mailward.backup.restore import restore_backup
from mailward.cli.runtime import GlobalOptions, fail, options, parse_when
from mailward.errors import InvalidInput


def backup(
    ctx: typer.Context,
    output: Path = typer.Option(..., "--output", "-o", help="archive to write (.tar, or .tar.gz)"),
    since: str | None = typer.Option(
        None, help="incremental: only Maildir messages written since (YYYY-MM-DD or ISO time)"
    ),
) -> None:
    """Back up the running installation: database snapshot, key ring, settings file,
    Maildirs, outbound spool, into one archive with a manifest of SHA-256 sums."""
    settings = options(ctx).settings()
    config = os.environ.get("MAILWARD_CONFIG")
    try:
        start = parse_when(since, "since")
        if start is not None and len(since or "") == 10:
            start = start.replace(hour=0, minute=0, second=0)  # the start of that day
        manifest = make_backup(settings, output, Path(config) if config else None, start)
    except BackupError as exc:
        fail(f"backup failed: {exc}")
    except InvalidInput as exc:
        fail(f"backup refused: {exc}")
    except OSError as exc:
        fail(f"backup failed: {exc.strerror or exc}: {exc.filename or output}")
    size = output.stat().st_size
    typer.echo(
        f"backup written to {output}: {len(manifest.files)} files, {size} bytes, "
        f"{manifest.database} database (data directory {settings.data_dir.resolve()})"
    )


def restore(
    ctx: typer.Context,
    archive: Path = typer.Argument(..., help="archive written by `mailward backup`"),
    data_dir: Path = typer.Option(..., "--data-dir", help="data directory to restore into"),
    force: bool = typer.Option(False, "--force", help="write over a non-empty target"),
) -> None:
    """Check the archive against its manifest, then restore it into an empty data
    directory and the configured database (MAILWARD_DATABASE_URL)."""
    base = options(ctx)
    settings = GlobalOptions(data_dir=data_dir, database_url=base.database_url).settings()
    try:
        restored = restore_backup(settings, archive, force)
    except BackupError as exc:
        fail(f"restore refused: {exc}")
    except OSError as exc:
        fail(f"restore failed: {exc.strerror or exc}: {exc.filename or data_dir}")
    where = f"; settings file in {restored.settings_file}" if restored.settings_file else ""
    typer.echo(
        f"restored {archive} ({len(restored.manifest.files)} files, "
        f"{restored.manifest.database} database of {restored.manifest.created_at}) "
        f"into {data_dir.resolve()}{where}"
    )
