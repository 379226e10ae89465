"""Running Mailward as a service: metrics, health checks, logs and certificates."""
