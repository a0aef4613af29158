"""Cohort lifecycle: what each cohort's state is (`cohort list`), removing one (`cohort remove`), and
retiring the synthetic demo once a real cohort is registered."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gutaxis import GutaxisError, warehouse
from gutaxis.specs import SLUG, cohorts_dir, load_cohort_spec


@dataclass
class CohortState:
    """One cohort as `cohort list` shows it: its spec (when registered) and its runs in the warehouse."""
    name: str
    kind: str = "registered"  # registered | synthetic | one-off | invalid
    format: str = "-"
    spec: str = ""
    last_run: datetime | None = None
    outcome: str = "never run"
    participants: int | None = None
    published: datetime | None = None
    problem: str = ""  # why an invalid spec cannot run, in full


def registered_specs() -> dict[str, Path]:
    """Registered spec files by cohort name (the file name, which a valid spec's name equals)."""
    return {p.name.split(".")[0]: p for p in sorted(cohorts_dir().glob("*.yaml"))}


def is_synthetic(spec_path: Path) -> bool:
    try:
        return load_cohort_spec(spec_path).synthetic
    except GutaxisError:
        return False  # a broken spec is still the user's own, real cohort


def real_cohorts_registered() -> bool:
    """Whether any registered spec is a real cohort (not the synthetic demo)."""
    return any(not is_synthetic(path) for path in registered_specs().values())


def synthetic_to_retire() -> list[str]:
    """Synthetic registered cohorts that leave the runs and the warehouse: those beside a real cohort."""
    specs = registered_specs()
    if not real_cohorts_registered():
        return []
    return [name for name, path in specs.items() if is_synthetic(path)]


def _run_key(verb: str) -> str:
    return (verb + uuid.uuid4().hex)[:16]


def unpublish(name: str, reason: str) -> int:
    """Take a cohort's rows out of the warehouse (audit trail kept, the removal itself recorded in
    audit.runs); the number of published tables dropped. Nothing happens without a warehouse."""
    from gutaxis.stages import code_version

    if not warehouse.warehouse_path().exists() and not warehouse.work_path(warehouse.warehouse_path()).exists():
        return 0
    with warehouse.open_writer() as conn:
        dropped = warehouse.unpublish_cohort(conn, name)
        warehouse.drop_staging(conn, name)
        if dropped:
            key = _run_key("remove")
            warehouse.record_run(conn, key, cohort=name, outcome=f"removed: {reason}", code_version=code_version())
            warehouse.record_run(conn, key, cohort=name, outcome=f"removed: {reason}", finished=True)
            warehouse.publish_snapshot(conn)
    return dropped


def remove_cohort(name: str) -> tuple[int, Path | None]:
    """`gutaxis cohort remove NAME`: unpublish the cohort and unregister its spec.

    (tables dropped, spec file removed or None). Refused when the name is neither registered nor published.
    """
    if not SLUG.match(name):
        raise GutaxisError(f"cohort {name!r} is not a cohort name (lower-case letters, digits, _ and -); "
                           "see `gutaxis cohort list`")
    spec = registered_specs().get(name)
    states = {s.name: s for s in cohort_states()}
    if spec is None and (name not in states or states[name].published is None):
        raise GutaxisError(f"cohort {name!r} is neither registered nor published; see `gutaxis cohort list`")
    dropped = unpublish(name, "by `gutaxis cohort remove`")
    if spec is not None:
        spec.unlink()
    return dropped, spec


def _published(conn) -> dict[str, tuple[datetime, str]]:
    """cohort -> (published time, participants table) from the snapshot's publish pointers."""
    rows = conn.execute("SELECT cohort, max(published_at), max(table_name) FILTER (WHERE kind = 'participants') "
                        "FROM store.published GROUP BY cohort").fetchall()
    return {cohort: (at, table) for cohort, at, table in rows}


def cohort_states() -> list[CohortState]:
    """Every registered cohort, and every cohort the warehouse has run (one-off runs included), by name."""
    states: dict[str, CohortState] = {}
    for name, path in registered_specs().items():
        try:
            spec = load_cohort_spec(path)
            states[name] = CohortState(name, "synthetic" if spec.synthetic else "registered", spec.format, str(path))
        except GutaxisError as exc:
            states[name] = CohortState(name, "invalid", "-", str(path), outcome="invalid spec (see below)", problem=str(exc))
    path = warehouse.warehouse_path()
    if path.exists():
        with warehouse.open_reader(path) as conn:
            last = conn.execute("SELECT cohort, started, outcome FROM audit.runs WHERE cohort IS NOT NULL QUALIFY "
                                "row_number() OVER (PARTITION BY cohort ORDER BY started DESC, finished DESC NULLS FIRST) = 1"
                                ).fetchall()
            published = _published(conn)
            for cohort, started, outcome in last:
                state = states.setdefault(cohort, CohortState(cohort, "one-off"))
                state.last_run = started
                if state.kind != "invalid":
                    state.outcome = outcome
            for cohort, (at, table) in published.items():
                state = states.setdefault(cohort, CohortState(cohort, "one-off"))
                state.published = at
                if table:
                    state.participants = conn.execute(f"SELECT count(*) FROM store.{warehouse.ident(table)}").fetchall()[0][0]
    return sorted((s for s in states.values() if s.kind != "one-off" or s.published is not None), key=lambda s: s.name)
