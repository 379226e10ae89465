"""Setup-assistant invitations."""
