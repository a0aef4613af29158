"""Whether a cohort changed since it was last published: its spec file and data files hashed again
and compared with what its published run recorded in audit.runs."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb

from gutaxis import GutaxisError, stages, warehouse
from gutaxis.specs import CohortSpec


def unchanged_since_publish(spec: CohortSpec, warehouse_file: str | Path | None = None) -> bool:
    """True when the analysts' warehouse holds a published run of this cohort whose spec and data
    files had the same sha256 as they have now; False when anything differs or cannot be told."""
    path = warehouse.warehouse_path(warehouse_file)
    if not path.exists():
        return False
    try:
        with warehouse.open_reader(path, wait_seconds=2.0) as conn:
            recorded = conn.execute(
                "SELECT r.spec_sha256, r.input_sha256 FROM store.published p JOIN audit.runs r USING (run_id) "
                "WHERE p.cohort = ? AND r.outcome = 'published' LIMIT 1", [spec.name]).fetchall()
    except (duckdb.Error, GutaxisError):  # a warehouse from before spec_sha256, or held by another program
        return False
    if not recorded or recorded[0][0] is None:
        return False
    spec_digest, inputs = recorded[0]
    try:
        return spec_digest == stages.spec_sha256(spec) and json.loads(inputs or "{}") == stages.sha256_files(spec.data_files())
    except (OSError, GutaxisError):
        return False
