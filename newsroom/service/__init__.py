"""The long-running service: queue, workers (and, next, the HTTP API)."""
