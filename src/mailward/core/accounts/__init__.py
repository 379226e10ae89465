"""Accounts: the people who sign in, their email proofs and personal API tokens."""
