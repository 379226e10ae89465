"""serve no longer prints the two aiosmtpd warnings that are not true of Mailward's
setup (implicit TLS on the submissions port; aiosmtpd's own use of login_data), and
still prints every other warning of aiosmtpd."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging
logging.basicConfig(level=logging.WARNING)
import mailward.mail.smtp_protocol
from aiosmtpd.smtp import SMTP, Session
SMTP(object(), auth_required=True, auth_require_tls=False)  # the submissions port
Session(None).login_data = "as aiosmtpd's AUTH code does"
logging.getLogger("mail.log").warning("a warning that is true")
"""


def test_only_the_warnings_that_are_wrong_here_are_silenced() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "default", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Requiring AUTH while not requiring TLS" not in result.stderr
    assert "auth_require_tls == False" not in result.stderr
    assert "login_data is deprecated" not in result.stderr
    assert "a warning that is true" in result.stderr
