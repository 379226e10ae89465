"""aiosmtpd warnings that are not true of Mailward's setup, silenced by exact message.

- "Requiring AUTH while not requiring TLS" (a ``UserWarning`` from ``aiosmtpd.smtp``, and
  its "auth_required == True but auth_require_tls == False" log line) is raised for the
  submissions port, where TLS is implicit: the socket is TLS before aiosmtpd sees a byte,
  so aiosmtpd cannot know it and must not ask for STARTTLS. Port 587 requires STARTTLS
  before AUTH, so the warning never concerns it.
- "Session.login_data is deprecated" is logged by aiosmtpd's own AUTH code, which still
  sets that attribute itself; Mailward never reads or writes it.
"""

from __future__ import annotations

import logging
import warnings

AIOSMTPD_LOGGER = "mail.log"
NOT_TRUE_HERE = frozenset(
    {
        "auth_required == True but auth_require_tls == False",
        "Session.login_data is deprecated and will be removed in version 2.0",
    }
)


class _NotTrueHere(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in NOT_TRUE_HERE


def silence_aiosmtpd_warnings() -> None:
    """Idempotent: drop only the exact messages above, from aiosmtpd only."""
    warnings.filterwarnings(
        "ignore",
        message="Requiring AUTH while not requiring TLS",
        category=UserWarning,
        module="aiosmtpd.smtp",
    )
    logger = logging.getLogger(AIOSMTPD_LOGGER)
    if not any(isinstance(f, _NotTrueHere) for f in logger.filters):
        logger.addFilter(_NotTrueHere())
