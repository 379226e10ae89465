"""Paths of the manager's pages that several route modules link to."""

from __future__ import annotations


def devices_path(address_id: int) -> str:
    return f"/addresses/{address_id}/devices"
