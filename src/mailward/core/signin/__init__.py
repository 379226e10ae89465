"""Signing in to the manager: limits, the second factor, web sessions."""
