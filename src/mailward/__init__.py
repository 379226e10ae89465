"""Mailward: a self-hosted mail service built around per-device passwords."""

__version__ = "0.1.0"
