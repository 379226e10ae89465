"""``python -m mailward.cli``."""

from mailward.cli.main import app

app(prog_name="mailward")
