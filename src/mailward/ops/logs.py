"""``serve``'s log lines: text, or one JSON object per line (``log_format = "json"``).

A JSON line carries the time, level, logger and message, and the device id when the
call gave one (``log.info(..., extra={"device_id": id})``). Messages never contain a
secret: Mailward logs error classes and ids, not request data.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        device_id = getattr(record, "device_id", None)
        if device_id is not None:
            line["device_id"] = device_id
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(log_format: Literal["text", "json"] = "text") -> None:
    """One handler on stderr for the process (unless one was set up already)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        formatter = JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
        handler.setFormatter(formatter)
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    # aiosmtpd logs every connection and command at INFO; keep warnings only.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
