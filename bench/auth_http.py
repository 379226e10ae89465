"""Throughput of the internal HTTP auth endpoint (POST /auth/dovecot), measured by
``wrk`` in a separate process (Debian: ``apt-get install -y wrk``).

Starts Mailward's endpoint in this process on 127.0.0.1 (SQLite in a temp dir, 20
devices with generated passwords on 4 addresses), writes a wrk Lua script that cycles
through them, runs wrk, prints its report and one JSON line. ``--cold`` switches the
credential cache off, so every request does the indexed database lookup.

    python bench/auth_http.py [--cold] [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import tempfile
from pathlib import Path

import httpx

from mailward.auth.limits import AuthLimits, Limit
from mailward.auth.runtime import AuthRuntime
from mailward.bootstrap import build_services
from mailward.core.access.actors import Actor
from mailward.settings import Settings

UNLIMITED = AuthLimits(*(Limit(n, 10**9, 60) for n in ("a", "b", "c")))


def lua_script(secret: str, bodies: list[str]) -> str:
    items = ",\n".join(json.dumps(b) for b in bodies)
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Mailward-Secret"] = {json.dumps(secret)}
local bodies = {{ {items} }}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "/auth/dovecot", nil, bodies[i])
end
local failures = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"ok"', 1, true) then failures = failures + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("non-ok answers: %d\\n", failures))
end
"""


async def main(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", auth_http_secret="s" * 40)
        services = await build_services(settings)
        op = Actor.operator()
        await services.accounts.create(op, "owner@corp.test", None)
        org = await services.organizations.create(op, "Bench", "owner@corp.test")
        await services.mail_services.create(op, org.id, "bench.test")
        bodies = []
        for a in range(4):
            address = (await services.addresses.create_by_email(op, f"box{a}@bench.test")).email
            for d in range(5):
                new = await services.devices.add(op, address, f"device {d}")
                login = {"user": address, "password": new.password, "service": "imap"}
                bodies.append(json.dumps({**login, "remote_ip": f"192.0.2.{d + 1}"}))
        auth = services.build_authenticator(limits=UNLIMITED)
        if args.cold:
            auth.cache.ttl = 0
        async with AuthRuntime(services, auth) as runtime:
            server = await runtime.serve_http("127.0.0.1", 0)
            async with httpx.AsyncClient() as client:
                check = await client.post(
                    server.url + "/auth/dovecot",
                    content=bodies[0],
                    headers={"X-Mailward-Secret": "s" * 40},
                )
                assert check.json()["result"] == "ok", check.text
            script = Path(tmp) / "dovecot.lua"
            script.write_text(lua_script("s" * 40, bodies))
            command = [
                "wrk",
                "-t2",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--latency",
                "-s",
                str(script),
                server.url,
            ]
            print(" ".join(command))
            proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
        await services.close()
    report = out.decode()
    print(report)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", report)
    bad = re.search(r"non-ok answers: (\d+)", report)
    print(
        json.dumps(
            {
                "cache": "off" if args.cold else "on",
                "requests_per_s": float(rate.group(1)) if rate else None,
                "non_ok": int(bad.group(1)) if bad else None,
                "connections": args.connections,
                "seconds": args.seconds,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cold", action="store_true", help="credential cache off")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
