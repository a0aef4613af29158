"""Dagster code location (definitions, jobs, schedules, sensors) and the `gutaxis` CLI."""
