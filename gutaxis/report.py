"""The per-cohort run summary printed by `gutaxis run` and `gutaxis cohort check`."""
from __future__ import annotations

from dataclasses import dataclass, field

import duckdb


@dataclass
class CohortReport:
    cohort: str
    run_key: str
    outcome: str
    participants: int = 0
    days: int = 0
    items: int = 0
    excluded_recalls: int = 0
    quarantined: int = 0
    top_quarantine: list[tuple[str, int]] = field(default_factory=list)
    unlinked_items: int = 0
    coverage: dict[str, float] = field(default_factory=dict)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)


def _one(conn, sql: str, params: list) -> object:
    return conn.execute(sql, params).fetchall()[0][0]


def cohort_report(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str, staged: bool = False) -> CohortReport:
    """Figures of one run: from the published tables, or from its staging tables for a check."""
    from gutaxis import warehouse

    outcome = conn.execute("SELECT outcome FROM audit.runs WHERE run_id = ?", [run_key]).fetchall()
    rep = CohortReport(cohort, run_key, outcome[0][0] if outcome else "not started")
    if staged:
        items_t = warehouse.staging_table("diary_items", cohort, run_key)
        pe_t = warehouse.staging_table("participant_exposure", cohort, run_key)
        where, params = "", []
        exists = warehouse.table_exists(conn, items_t)
    else:
        items_t, pe_t, where, params, exists = "cohort.diary_items", "marts.participant_exposure", "WHERE cohort = ?", [cohort], True
    if exists and (staged or rep.outcome == "published"):
        rep.items, rep.participants, rep.days = conn.execute(
            f"SELECT count(*), count(DISTINCT participant_id), count(DISTINCT (participant_id, recall_day)) FROM {items_t} {where}",
            params).fetchall()[0]
        pe_exists = not staged or warehouse.table_exists(conn, pe_t)
        if pe_exists:
            rep.coverage = dict(conn.execute(
                f"SELECT component_id, avg(coverage) FROM {pe_t} {where} GROUP BY component_id ORDER BY component_id", params).fetchall())
    rep.excluded_recalls = _one(conn, "SELECT count(*) FROM audit.inclusion WHERE run_id = ? AND NOT included", [run_key])
    rep.top_quarantine = conn.execute(
        "SELECT reason, count(*) n FROM audit.quarantine WHERE run_id = ? GROUP BY reason ORDER BY n DESC, reason LIMIT 3",
        [run_key]).fetchall()
    rep.quarantined = _one(conn, "SELECT count(*) FROM audit.quarantine WHERE run_id = ?", [run_key])
    rep.unlinked_items = _one(conn, "SELECT coalesce(sum(n_items), 0) FROM audit.linkage WHERE run_id = ?", [run_key])
    for suite, check, severity, success, unexpected in conn.execute(
            'SELECT suite, "check", severity, success, unexpected_count FROM audit.validations WHERE run_id = ? ORDER BY suite, "check"',
            [run_key]).fetchall():
        label = f"{suite}.{check} ({unexpected} unexpected)"
        if success:
            rep.checks_passed += 1
        elif severity == "block":
            rep.checks_failed.append(label)
        else:
            rep.checks_warned.append(label)
    return rep


def format_report(rep: CohortReport) -> str:
    lines = [
        f"cohort {rep.cohort}: {rep.outcome}",
        f"  participants {rep.participants}  recall days {rep.days}  items {rep.items}  "
        f"excluded recalls {rep.excluded_recalls}  quarantined rows {rep.quarantined}  unlinked items {rep.unlinked_items}",
    ]
    if rep.top_quarantine:
        lines.append("  quarantined: " + "; ".join(f"{reason} x{n}" for reason, n in rep.top_quarantine))
    if rep.coverage:
        lines.append("  coverage: " + "  ".join(f"{c} {v:.0%}" for c, v in rep.coverage.items() if v is not None))
    lines.append(f"  checks: {rep.checks_passed} passed, {len(rep.checks_failed)} failed, {len(rep.checks_warned)} warned")
    lines += [f"  FAILED {c}" for c in rep.checks_failed]
    lines += [f"  warned {c}" for c in rep.checks_warned]
    return "\n".join(lines)


def format_table(reports: list[CohortReport]) -> str:
    """The closing summary: one row per cohort."""
    header = ("cohort", "outcome", "participants", "days", "items", "excluded recalls", "quarantined", "unlinked",
              "checks passed", "failed", "warned")
    rows = [(r.cohort, r.outcome.split(":")[0], r.participants, r.days, r.items, r.excluded_recalls, r.quarantined,
             r.unlinked_items, r.checks_passed, len(r.checks_failed), len(r.checks_warned)) for r in reports]
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows)]

    def line(values) -> str:  # names left-aligned, counts right-aligned
        return "  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])
