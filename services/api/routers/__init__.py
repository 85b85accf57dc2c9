"""One router per resource: meta (health, dashboard), chains (and contracts), guardians, messages, events."""
