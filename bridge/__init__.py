"""cartbridge core: shared model, abandonment rules, services, persistence, channels, worker, CLI."""
