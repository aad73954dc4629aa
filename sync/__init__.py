"""The sync engine: durable sync runs, workers, schedules."""
