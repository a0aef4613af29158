"""Thin Dagster assets and asset checks over the gutaxis engine, one module per stage."""
