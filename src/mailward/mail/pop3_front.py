"""The POP3 listeners: what every connection shares, and one task per connection,
admitted by the connection caps."""

from __future__ import annotations

import asyncio
import logging
import ssl
from asyncio import StreamReader, StreamWriter
from dataclasses import dataclass, field

from mailward.auth.interfaces import DeviceAuthenticator
from mailward.clock import Clock
from mailward.mail.connections import ConnectionGate, ConnectionTracker, FrontLimits
from mailward.mail.maildir import MailStore
from mailward.mail.pop3 import Pop3Session
from mailward.mail.sessions import SessionRegistry

log = logging.getLogger(__name__)

TOO_MANY = b"-ERR [SYS/TEMP] Too many connections from your network, try again later\r\n"


@dataclass
class Pop3Context:
    """What every POP3 connection of the process shares."""

    authenticator: DeviceAuthenticator
    store: MailStore
    registry: SessionRegistry
    clock: Clock
    tracker: ConnectionTracker
    locked: set[int]
    gate: ConnectionGate = field(default_factory=lambda: ConnectionGate(2000, 50))
    limits: FrontLimits = field(default_factory=lambda: FrontLimits(idle_timeout=600.0))


class Pop3Listener:
    """The ``asyncio.start_server`` callback for one POP3 port."""

    def __init__(self, context: Pop3Context, tls: ssl.SSLContext, starttls: bool) -> None:
        self.context = context
        self.tls = tls
        self.starttls = starttls

    async def __call__(self, reader: StreamReader, writer: StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        session = Pop3Session(self.context, reader, writer, self.tls, self.starttls, task)
        gate = self.context.gate
        with gate.admitting(session.client_ip) as admitted, self.context.tracker.tracking(task):
            if not admitted:
                writer.write(TOO_MANY)
                writer.close()
                return
            try:
                await session.run()
            except asyncio.CancelledError:
                await session.say_goodbye()
            except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, ssl.SSLError):
                pass
            except Exception:
                log.exception("POP3 connection failed")
            finally:
                session.finish()
                writer.close()
