"""Passkeys (WebAuthn) of manager accounts."""
