"""Device authentication for every protocol login of both data planes (DESIGN §3)."""
