"""Regression tests of the attacks on the running service (tenant isolation, abuse of
the mail front). Shared fixtures come from tests/conftest.py."""
