"""Running ``doveadm -c CONFIG ...`` against a Dovecot instance, bounded in time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

NO_SUCH_USER = 68  # EX_NOUSER: doveadm kick found no session to end


@dataclass(frozen=True)
class DoveadmResult:
    code: int
    output: str
    error: str


async def run_doveadm(
    config: Path, *arguments: str, seconds: float, doveadm: str = "doveadm"
) -> DoveadmResult:
    """doveadm's exit code and output; past ``seconds`` it is killed and TimeoutError
    raised."""
    process = await asyncio.create_subprocess_exec(
        doveadm,
        "-c",
        str(config),
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(seconds):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = stdout.decode(errors="replace")
    return DoveadmResult(int(process.returncode or 0), text, stderr.decode(errors="replace"))
