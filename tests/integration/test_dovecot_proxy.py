"""Mailboxes on several machines: one Dovecot proxy and two mailbox backends, all from
`mailward integrate dovecot --role proxy|backend` on loopback ports, in front of
`mailward serve` on PostgreSQL. Addresses on different backends log in and receive mail
through the proxy; `mailward address move` moves a mailbox under an open IDLE session;
revoking a device ends its proxied session."""

from __future__ import annotations

import imaplib
import poplib
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mailward.integrations.dovecot import write_dovecot_config
from mailward.settings import MailboxBackend
from tests.integration.dataplane import (
    INFO,
    SALES,
    DataPlane,
    client_tls,
    destroy_plane,
    prepare_plane,
    require_binaries,
    settings_env,
    start_dovecot,
    start_node,
    stop_dovecot,
    stop_dovecot_at,
    wait_for_auth_chain,
    wait_for_port,
)
from tests.integration.test_dovecot_dataplane import imaps_login
from tests.support import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BACKENDS = ("store1", "store2")


@dataclass
class Cluster:
    plane: DataPlane  # its Dovecot is the proxy
    layout: Path  # the backends' configurations and mail roots

    def mail_root(self, backend: str) -> Path:
        return self.layout / f"{backend}-mail"

    def config(self, backend: str) -> Path:
        return self.layout / backend / "dovecot.conf"

    def maildir_messages(self, backend: str, address: str) -> list[Path]:
        local, domain = address.split("@")
        maildir = self.mail_root(backend) / domain / local / "Maildir"
        return [p for sub in ("new", "cur") for p in (maildir / sub).glob("*") if p.is_file()]

    def logins(self, backend: str, address: str) -> list[str]:
        log = (self.layout / backend / "dovecot.log").read_text()
        return [line for line in log.splitlines() if f"Login: user=<{address}#" in line]

    def who(self, backend: str) -> str:
        command = ["doveadm", "-c", str(self.config(backend)), "who"]
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout


def backend_entries(layout: Path) -> dict[str, MailboxBackend]:
    return {
        name: MailboxBackend(
            host="127.0.0.1",
            imap_port=free_port(),
            pop3_port=free_port(),
            lmtp_port=free_port(),
            doveadm_port=free_port(),
            dovecot_config=layout / name / "dovecot.conf",
        )
        for name in BACKENDS
    }


def write_layout(cluster: Cluster) -> None:
    """The proxy's configuration replaces the plane's single-machine one; each backend
    gets its own directory, mail root and instance name."""
    plane = cluster.plane
    write_dovecot_config(
        plane.settings, plane.root / "dovecot", replace(plane.options, role="proxy")
    )
    for name in BACKENDS:
        options = replace(
            plane.options,
            role="backend",
            backend=name,
            proxy_networks=("127.0.0.1",),  # the proxy, and Mailward's kicks
            mail_root=cluster.mail_root(name),
            instance_name=f"{plane.options.instance_name}-{name}",
        )
        write_dovecot_config(plane.settings, cluster.layout / name, options)


def start_backend(cluster: Cluster, name: str) -> None:
    subprocess.run(["dovecot", "-c", str(cluster.config(name))], check=True, timeout=30)
    wait_for_port(cluster.plane.settings.mailbox_backends[name].imap_port)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    require_binaries()
    layout = Path(tempfile.mkdtemp(prefix="mwpx", dir="/tmp"))
    layout.chmod(0o755)
    plane = prepare_plane(mailbox_backends=backend_entries(layout))
    cluster = Cluster(plane, layout)
    started: list[Path] = []
    try:
        write_layout(cluster)
        plane.nodes.append(start_node(plane.settings))
        for name in BACKENDS:
            start_backend(cluster, name)
            started.append(cluster.config(name))
        start_dovecot(plane)
        started.append(plane.dovecot_conf)
        wait_for_auth_chain(plane)
        yield cluster
    finally:
        for config in started:
            stop_dovecot_at(config) if config != plane.dovecot_conf else stop_dovecot(plane)
        destroy_plane(plane)
        shutil.rmtree(layout, ignore_errors=True)


def deliver(plane: DataPlane, address: str, subject: str) -> None:
    """One message through the proxy's LMTP, where Postfix delivers."""
    message = f"From: someone@outside.test\r\nTo: {address}\r\nSubject: {subject}\r\n\r\nHi\r\n"
    with smtplib.LMTP("127.0.0.1", plane.options.lmtp_port, timeout=30) as lmtp:
        refused = lmtp.sendmail("someone@outside.test", [address], message.encode())
    assert not refused, refused


def subjects(client: imaplib.IMAP4_SSL) -> list[str]:
    client.select("INBOX")
    _, found = client.search(None, "ALL")
    if not found[0]:
        return []
    _, data = client.fetch(b",".join(found[0].split()), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    headers = [bytes(part[1]) for part in data if isinstance(part, tuple)]
    return sorted(h.decode().split(":", 1)[1].strip() for h in headers)


def start_idle(client: imaplib.IMAP4_SSL) -> None:
    client.send(b"I1 IDLE\r\n")
    assert client.readline().startswith(b"+"), "the proxy did not start IDLE"


def wait_for_end(client: imaplib.IMAP4_SSL, within: float) -> bytes:
    """Read an idling session until its server ends it (BYE, or the connection closes);
    the last line read."""
    client.sock.settimeout(within)
    last = b""
    try:
        while line := client.readline():
            last = line
            if line.startswith(b"* BYE"):
                break
    except TimeoutError:
        raise AssertionError(f"the session is still open after {within} s") from None
    finally:
        client.shutdown()
    return last


def placement_of(cluster: Cluster, address: str) -> str:
    return mailward(cluster, "address", "placement", address).split("\t")[1].strip()


def mailward(cluster: Cluster, *arguments: str) -> str:
    command = [sys.executable, "-m", "mailward.cli", *arguments]
    env = settings_env(cluster.plane.settings)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    backends = "".join((cluster.layout / b / "dovecot.log").read_text() for b in BACKENDS)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{backends}"
    return result.stdout


def test_addresses_on_two_backends_log_in_and_receive_mail_through_the_proxy(
    cluster: Cluster,
) -> None:
    plane = cluster.plane
    assert (placement_of(cluster, INFO), placement_of(cluster, SALES)) == BACKENDS
    for address, backend in zip((INFO, SALES), BACKENDS, strict=True):
        subject = f"to {address} {uuid.uuid4().hex[:8]}"
        deliver(plane, address, subject)
        device = plane.add_device(address, f"Laptop {uuid.uuid4().hex[:6]}")
        client = imaps_login(plane, address, device.password)
        try:
            assert subject in subjects(client)
            assert f"{address}#{device.device.id}" in cluster.who(backend)
            logins = cluster.logins(backend, address)  # the proxy came with STARTTLS
            assert logins and all(", TLS" in line for line in logins), logins
        finally:
            client.logout()
        assert len(cluster.maildir_messages(backend, address)) >= 1
        pop = poplib.POP3_SSL("127.0.0.1", plane.settings.pop3s_port, context=client_tls())
        pop.user(address)
        assert pop.pass_(device.password).startswith(b"+OK")
        assert pop.stat()[0] >= 1
        pop.quit()
        other = BACKENDS[1 - BACKENDS.index(backend)]
        assert not cluster.maildir_messages(other, address)


def test_a_move_under_an_idle_session_loses_no_message_and_the_next_login_lands_on_the_new_backend(
    cluster: Cluster,
) -> None:
    plane = cluster.plane
    source = placement_of(cluster, INFO)
    target = BACKENDS[1 - BACKENDS.index(source)]
    device = plane.add_device(INFO, "Phone holding IDLE")
    sent = [f"before move {n}" for n in range(3)]
    for subject in sent:
        deliver(plane, INFO, subject)
    idle = imaps_login(plane, INFO, device.password)
    idle.select("INBOX")
    start_idle(idle)

    during: list[str] = []
    moving = threading.Event()

    def deliver_while_moving() -> None:
        while not moving.is_set():
            subject = f"during move {len(during)}"
            deliver(plane, INFO, subject)
            during.append(subject)
            time.sleep(0.05)

    sender = threading.Thread(target=deliver_while_moving)
    sender.start()
    try:
        output = mailward(cluster, "address", "move", INFO, "--to", target)
    except BaseException:
        idle.shutdown()
        raise
    finally:
        moving.set()
        sender.join(60)
    assert f"moved from {source} to {target}" in output
    wait_for_end(idle, within=10)  # kicked on the old backend: the proxy closes it

    deliver(plane, INFO, "after move")
    again = imaps_login(plane, INFO, device.password)
    try:
        received = subjects(again)
        assert f"{INFO}#{device.device.id}" in cluster.who(target)
        assert f"{INFO}#" not in cluster.who(source)
    finally:
        again.logout()
    expected = sent + during + ["after move"]
    missing = sorted(set(expected) - set(received))
    assert not missing, f"lost in the move: {missing}"
    assert len(cluster.maildir_messages(target, INFO)) >= len(expected)


def test_the_backends_doveadm_listeners_speak_tls(cluster: Cluster) -> None:
    """dsync during a move and the doveadm password do not cross the network in clear."""
    for name in BACKENDS:
        port = cluster.plane.settings.mailbox_backends[name].doveadm_port
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            client_tls().wrap_socket(raw) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_revoking_a_device_ends_its_proxied_idle_session_and_no_other(cluster: Cluster) -> None:
    plane = cluster.plane
    phone = plane.add_device(SALES, "Phone to revoke")
    laptop = plane.add_device(SALES, "Laptop kept")
    revoked = imaps_login(plane, SALES, phone.password)
    kept = imaps_login(plane, SALES, laptop.password)
    try:
        revoked.select("INBOX")
        start_idle(revoked)
        plane.revoke(SALES, phone.device.id)
        wait_for_end(revoked, within=5)
        assert kept.noop()[0] == "OK"
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            imaps_login(plane, SALES, phone.password)
    finally:
        kept.logout()


def expunge(client: imaplib.IMAP4_SSL, subject: str) -> None:
    client.select("INBOX")
    _, found = client.search(None, "SUBJECT", f'"{subject}"')
    assert found[0], f"no message {subject!r}"
    client.store(b",".join(found[0].split()).decode(), "+FLAGS", "\\Deleted")
    client.expunge()


def test_a_move_back_to_a_backend_drops_what_its_old_copy_still_held(cluster: Cluster) -> None:
    """The first pass of a move is one-way: mail deleted while the address lived on the
    other backend does not come back from the target's old copy."""
    plane = cluster.plane
    tag = uuid.uuid4().hex[:8]
    home = placement_of(cluster, SALES)
    away = BACKENDS[1 - BACKENDS.index(home)]
    for subject in (f"kept {tag}", f"deleted away {tag}"):
        deliver(plane, SALES, subject)
    mailward(cluster, "address", "move", SALES, "--to", away)
    device = plane.add_device(SALES, f"Laptop {tag}")
    client = imaps_login(plane, SALES, device.password)
    try:
        expunge(client, f"deleted away {tag}")
    finally:
        client.logout()
    mailward(cluster, "address", "move", SALES, "--to", home)
    again = imaps_login(plane, SALES, device.password)
    try:
        received = [subject for subject in subjects(again) if subject.endswith(tag)]
    finally:
        again.logout()
    assert received == [f"kept {tag}"]
