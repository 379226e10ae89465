"""A real DNS server for the domain-verification tests: Debian's dnsmasq on a loopback
high port, authoritative for ``.test`` (unknown names answer NXDOMAIN), with the TXT
records a test publishes. Publishing restarts it (dnsmasq reads TXT records at start)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support import free_port, skip_or_fail

DNSMASQ = "/usr/sbin/dnsmasq"


class DnsServer:
    def __init__(self, workdir: Path) -> None:
        if not Path(DNSMASQ).exists() and shutil.which("dnsmasq") is None:
            skip_or_fail("dnsmasq is not installed (Debian package dnsmasq-base)")
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def resolver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def publish(
        self,
        records: dict[str, list[str]],
        hosts: dict[str, str] | None = None,
        mx: dict[str, str] | None = None,
        extra: list[str] | None = None,
    ) -> None:
        """Serve exactly ``records`` (name -> TXT strings), ``hosts`` (name -> IPv4, with
        its PTR), ``mx`` (domain -> exchange) and ``extra`` (dnsmasq options such as
        ``--srv-host=`` or ``--cname=``) from now on."""
        self.stop()
        args = [
            shutil.which("dnsmasq") or DNSMASQ,
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            f"--port={self.port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--local=/test/",
            "--cache-size=0",
            f"--pid-file={self.workdir / 'dnsmasq.pid'}",
        ]
        args += [
            f"--txt-record={name},{_strings(text)}" for name, ts in records.items() for text in ts
        ]
        args += [f"--host-record={name},{ip}" for name, ip in (hosts or {}).items()]
        args += [f"--mx-host={domain},{host},10" for domain, host in (mx or {}).items()]
        args += extra or []
        with (self.workdir / "dnsmasq.log").open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=log)
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError((self.workdir / "dnsmasq.log").read_text())
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", self.port))
                except OSError:
                    return  # dnsmasq holds the port
            time.sleep(0.05)
        raise RuntimeError("dnsmasq did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _strings(text: str) -> str:
    """One TXT record as dnsmasq's comma-separated strings of at most 255 bytes (a DKIM
    key is longer); a resolver joins them back."""
    return ",".join(text[i : i + 255] for i in range(0, len(text), 255))
