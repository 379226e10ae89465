"""``mailward integrate rspamd``: rspamd (Debian 3.4) as Postfix's milter. Files for
rspamd's ``local.d`` and ``override.d`` (``--output /etc/rspamd`` puts them in place):
SPF, DKIM, DMARC (``p=reject`` applied), ARC and the spam score on arriving mail, with
``Authentication-Results`` added; reject and add-header scores from the settings;
greylisting off unless asked for; DKIM signing of submitted mail with Mailward's keys,
written here with mode 0600 (one active selector a domain, RSA preferred)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mailward.core.mailservices.dkim import SigningKey
from mailward.integrations.render import render, write_text
from mailward.settings import Settings

GREYLIST_SCORE = 4.0
LOCAL = ("options.inc", "actions.conf", "greylist.conf", "dmarc.conf", "spf.conf", "dkim.conf")
LOCAL_MORE = ("milter_headers.conf", "dkim_signing.conf")
OVERRIDE = ("worker-proxy.inc", "worker-normal.inc", "worker-controller.inc")


def chosen_keys(keys: Sequence[SigningKey]) -> dict[str, SigningKey]:
    """The key rspamd signs each domain with: its active RSA key (every receiver checks
    RSA; Ed25519 is not yet universally verified), else its active Ed25519 key."""
    chosen: dict[str, SigningKey] = {}
    for key in sorted(keys, key=lambda k: (k.algorithm != "rsa", k.selector)):
        chosen.setdefault(key.domain, key)
    return chosen


def write_keys(output_dir: Path, keys: Sequence[SigningKey]) -> list[Path]:
    keys_dir = output_dir / "dkim"
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys_dir.chmod(0o700)
    chosen = chosen_keys(keys)
    written = []
    for domain, key in sorted(chosen.items()):
        path = keys_dir / f"{domain}.{key.selector}.key"
        written.append(write_text(path, key.private_pem.decode("ascii"), mode=0o600))
    lines = "".join(f"{domain} {key.selector}\n" for domain, key in sorted(chosen.items()))
    written.append(write_text(output_dir / "dkim_selectors.map", lines))
    return written


def write_rspamd_config(
    settings: Settings, output_dir: Path, keys: Sequence[SigningKey] = ()
) -> list[Path]:
    """Write ``local.d/*``, ``override.d/worker-*.inc``, the DKIM keys and the selector
    map into ``output_dir``. Run with ``rspamd -c /etc/rspamd/rspamd.conf
    --var=LOCAL_CONFDIR=output_dir`` (or write into /etc/rspamd)."""
    output_dir = output_dir.resolve()
    values = {
        "nameservers": settings.dns_resolvers,
        "dns_timeout": settings.dns_timeout_seconds,
        "reject_score": settings.rspamd_reject_score,
        "add_header_score": settings.rspamd_add_header_score,
        "greylisting": settings.rspamd_greylisting,
        "greylist_score": GREYLIST_SCORE,
        "keys_dir": output_dir / "dkim",
        "selector_map": output_dir / "dkim_selectors.map",
        "milter": settings.rspamd_milter,
        "worker": settings.rspamd_worker,
    }
    written = write_keys(output_dir, keys)
    for name in LOCAL + LOCAL_MORE:
        text = render(f"rspamd/{name}.j2", **values)
        written.append(write_text(output_dir / "local.d" / name, text))
    for name in OVERRIDE:
        text = render(f"rspamd/{name}.j2", **values)
        written.append(write_text(output_dir / "override.d" / name, text))
    return written
