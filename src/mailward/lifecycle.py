"""One shape for a part that is started and stopped as a whole: ``async with part:``
starts it, and stops it on the way out, after an error too."""

from __future__ import annotations

from typing import Self


class StartStop:
    """A part with ``start()`` and ``stop()``, usable as an async context manager."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
