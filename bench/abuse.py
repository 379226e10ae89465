"""Abuse-proofing figures of the mail front, one run, one machine.

    python bench/abuse.py [--quick]

Each part is its own module (bench/abuse_*.py) with ``async def measure(quick: bool) ->
dict[str, float]``; this runner calls them in turn, prints a table, and last one JSON
line with every key:

- literal_rss_growth_mb: RSS growth while 50 connections try a 2 GB literal before login
- flood_legit_p99_ms, flood_legit_failures: real devices logging in during a flood
- wrong_pw_cost_ratio: wrong password, address with 5 chosen passwords / unknown address
- revoke_to_bye_ms_blackhole_smarthost: revoke -> BYE with a smarthost that never answers
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PARTS = ("abuse_literal", "abuse_flood", "abuse_revoke")


async def run(quick: bool) -> dict[str, float]:
    results: dict[str, float] = {}
    for name in PARTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            print(f"{name}: not written yet", file=sys.stderr)
            continue
        results.update(await module.measure(quick))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller loads (about 4 minutes)")
    args = parser.parse_args()
    results = asyncio.run(run(args.quick))
    width = max((len(k) for k in results), default=10)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:>10.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
