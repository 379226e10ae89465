"""Backup and restore time and archive size of an installation with 10,000 messages
and 1,000 devices (SQLite; ``--postgres`` for PostgreSQL at 127.0.0.1:5432).

The installation is filled directly (devices through the device service, messages
written straight into the Maildirs, 4 KiB each, over 100 addresses); then
``make_backup`` and ``restore_backup`` (what ``mailward backup`` / ``restore`` run)
are timed, and the restored Maildirs are compared with the originals.

    python bench/backup.py            # 10,000 messages, 1,000 devices
    python bench/backup.py --quick    # 1,000 messages, 100 devices

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import create_postgres_database, drop_postgres_database

from mailward.backup.backup import make_backup
from mailward.backup.restore import restore_backup
from mailward.bootstrap import build_services
from mailward.core.access.actors import Actor
from mailward.mail.maildir import MailStore, unique_name
from mailward.settings import Settings

ADDRESSES = 100
MESSAGE_BYTES = 4096


def message(n: int) -> bytes:
    head = f"From: <a@outside.test>\r\nTo: <x@bench.test>\r\nSubject: bench {n}\r\n\r\n"
    body = secrets.token_hex(MESSAGE_BYTES // 2)  # incompressible, as real mail mostly is
    return (head + body + "\r\n").encode()[:MESSAGE_BYTES]


async def fill(settings: Settings, messages: int, devices: int) -> None:
    services = await build_services(settings)
    try:
        op = Actor.operator()
        owner = await services.accounts.create(op, "owner@bench.test", "x" * 24 + "bench1!", "O")
        org = await services.organizations.create(op, "Bench", owner.email)
        await services.mail_services.create(op, org.id, "bench.test")
        ids = []
        for a in range(ADDRESSES):
            address = await services.addresses.create_by_email(op, f"box{a}@bench.test")
            ids.append(address.id)
        for d in range(devices):
            await services.devices.add(op, f"box{d % ADDRESSES}@bench.test", f"device {d}")
    finally:
        await services.close()
    store = MailStore(settings.mail_dir)
    for n in range(messages):  # no fsync per message: filling, not measuring delivery
        inbox = store.ensure_inbox(ids[n % ADDRESSES])
        (inbox / ("cur" if n % 2 else "new") / unique_name()).write_bytes(message(n))


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and path.parent.name in ("new", "cur")
    }


async def main(quick: bool, postgres: bool) -> dict[str, object]:
    messages, devices = (1_000, 100) if quick else (10_000, 1_000)
    with tempfile.TemporaryDirectory(prefix="mailward-bench-backup-") as scratch:
        root = Path(scratch)
        url = await create_postgres_database() if postgres else None
        try:
            settings = Settings(data_dir=root / "data", database_url=url)
            started = time.perf_counter()
            await fill(settings, messages, devices)
            filled = time.perf_counter() - started
            archive = root / "backup.tar"
            started = time.perf_counter()
            manifest = await asyncio.to_thread(make_backup, settings, archive, None)
            backup_seconds = time.perf_counter() - started
            if url:
                await drop_postgres_database(url)
                url = await create_postgres_database()
            target = Settings(data_dir=root / "restored", database_url=url)
            started = time.perf_counter()
            await asyncio.to_thread(restore_backup, target, archive, False)
            restore_seconds = time.perf_counter() - started
            same = tree_bytes(settings.mail_dir) == tree_bytes(target.mail_dir)
        finally:
            if url:
                await drop_postgres_database(url)
        return {
            "database": "postgresql" if postgres else "sqlite",
            "messages": messages,
            "devices": devices,
            "fill_s": round(filled, 2),
            "backup_s": round(backup_seconds, 2),
            "restore_s": round(restore_seconds, 2),
            "archive_bytes": archive.stat().st_size if archive.exists() else 0,
            "data_bytes": manifest.total_bytes,
            "files": len(manifest.files),
            "archive_over_data": round(archive.stat().st_size / manifest.total_bytes, 3),
            "restored_same_bytes": same,
            "cores": os.cpu_count(),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 messages, 100 devices")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL at 127.0.0.1")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.quick, args.postgres))))
