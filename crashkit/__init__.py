"""crashkit: crash a program at every durable operation, restart it, check invariants."""
