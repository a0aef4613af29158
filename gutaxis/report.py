"""The per-cohort run summary printed by `gutaxis run` and `gutaxis cohort check`."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import duckdb

from gutaxis.components import component_ids


@dataclass
class CohortReport:
    cohort: str
    run_key: str
    outcome: str
    participants: int = 0
    days: int = 0
    items: int = 0
    excluded_recalls: int = 0
    excluded_reasons: list[tuple[str, int]] = field(default_factory=list)  # why recalls were excluded, most frequent first
    quarantined: int = 0
    top_quarantine: list[tuple[str, int]] = field(default_factory=list)
    unlinked_items: int = 0
    coverage: dict[str, float] = field(default_factory=dict)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # source id -> version (audit.runs.source_versions)
    # warned check label -> its first offending rows (participant, day, food code, column, value)
    warned_rows: dict[str, list[tuple]] = field(default_factory=dict)
    estimated: list[str] = field(default_factory=list)  # what the run's analyses estimated (gutaxis.analysis)
    indices: list[str] = field(default_factory=list)  # which indices were computed, which not and why (gutaxis.indices)
    # a day-totals cohort (nhanes-tot, tabular-totals): days but no items, hence no food contributions
    day_totals: bool = False
    html_report: str = ""  # where the run's HTML report was written (or why not): pipelines.runner fills it


# More unlinked items than this share is not a few missing foods but, most likely, the wrong source.
UNLINKED_WARNING_SHARE = 0.5


def _one(conn, sql: str, params: list) -> object:
    return conn.execute(sql, params).fetchall()[0][0]


def cohort_report(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str, staged: bool = False) -> CohortReport:
    """Figures of one run: from the published tables, or from its staging tables for a check."""
    from gutaxis import warehouse

    outcome = conn.execute("SELECT outcome, source_versions FROM audit.runs WHERE run_id = ?", [run_key]).fetchall()
    rep = CohortReport(cohort, run_key, outcome[0][0] if outcome else "not started")
    if outcome and outcome[0][1]:
        rep.sources = json.loads(outcome[0][1])
    # The run's own tables: staged ones for a check, the same tables once published (a publish
    # repoints the contract views at them without copying). Counted from the day and participant
    # tables, not by distinct keys over every item.
    items_t, day_t, pe_t = (warehouse.staging_table(kind, cohort, run_key)
                            for kind in ("diary_items", "day_exposure", "participant_exposure"))
    if (staged or rep.outcome == "published") and warehouse.table_exists(conn, items_t):
        rep.items = _one(conn, f"SELECT count(*) FROM {items_t}", [])
        if warehouse.table_exists(conn, pe_t) and warehouse.table_exists(conn, day_t):
            rep.days = _one(conn, f"SELECT count(*) FROM {day_t}", [])
            rep.participants = _one(conn, f"SELECT count(*) FROM {pe_t}", [])
            # components the table stores no coverage for had no source: 0 (as the contract view shows)
            rep.coverage = {c: 0.0 for c in component_ids()}
            if any(c.startswith("coverage__") for c in warehouse.column_names(conn, pe_t)):
                means = conn.execute(f"SELECT avg(COLUMNS('^coverage__')) FROM {pe_t}").fetchall()
                names = [d[0] for d in conn.description]
                rep.coverage.update((n.split("__", 1)[1], v) for n, v in zip(names, means[0]))
            rep.coverage = dict(sorted(rep.coverage.items()))
            # an item diary with no item is refused at ingest: days without items are a day-totals file's
            rep.day_totals = rep.items == 0 and rep.days > 0
    if staged or rep.outcome == "published":
        from gutaxis.analysis.steps import analysis_summary

        rep.estimated = analysis_summary(conn, cohort, run_key)
        from gutaxis.indices.steps import index_summary

        rep.indices = index_summary(conn, cohort, run_key)
    rep.excluded_reasons = conn.execute(
        "SELECT coalesce(reason, 'no reason recorded'), count(*) n FROM audit.inclusion WHERE run_id = ? AND NOT included "
        "GROUP BY ALL ORDER BY n DESC, 1", [run_key]).fetchall()
    rep.excluded_recalls = sum(n for _, n in rep.excluded_reasons)
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
            rep.warned_rows[label] = conn.execute(
                'SELECT participant_id, recall_day, food_code, "column", value FROM audit.warned_rows '
                'WHERE run_id = ? AND suite = ? AND "check" = ? '
                'ORDER BY TRY_CAST(participant_id AS BIGINT) NULLS LAST, participant_id, recall_day, food_code', [run_key, suite, check]).fetchall()
    return rep


# what a warned value is, by the stored column it came from
VALUE_UNITS = {"grams": "g", "amount__energy_kcal": "kcal"}


def _offending_row(participant_id, recall_day, food_code, column, value) -> str:
    where = [f"participant {participant_id}"]
    if recall_day is not None:
        where.append(f"day {recall_day}")
    if food_code is not None:
        where.append(f"food {food_code}")
    unit = VALUE_UNITS.get(column)
    try:
        value = f"{float(value):g}"
    except (TypeError, ValueError):
        pass
    return " ".join(where) + f": {value}" + (f" {unit}" if unit else f" ({column})" if column else "")


def coverage_line(coverage: dict[str, float | None]) -> str:
    """The share of items with a value, per component, grouped: with ~80 components a line of every
    figure hides the few that matter. Full and none are counted and the none named (a source to
    fetch); the partial ones are given one by one."""
    known = {c: v for c, v in coverage.items() if v is not None}
    full = [c for c, v in known.items() if v >= 1.0]
    none = [c for c, v in known.items() if v <= 0.0]
    partial = "  ".join(f"{c} {_share(v)}" for c, v in known.items() if 0.0 < v < 1.0)
    parts = [f"{len(full)} components 100%"] if full else []
    if partial:
        parts.append(partial)
    if none:
        parts.append(f"{len(none)} with no value: {', '.join(none)}")
    return "; ".join(parts)


def _share(value: float) -> str:
    """A partial share never printed as 100% or 0%."""
    text = f"{value:.0%}"
    return f"{value:.1%}" if text in ("100%", "0%") else text


def format_report(rep: CohortReport) -> str:
    lines = [
        f"cohort {rep.cohort}: {rep.outcome}",
        f"  participants {rep.participants}  recall days {rep.days}  items {rep.items}  "
        f"excluded recalls {rep.excluded_recalls}  quarantined rows {rep.quarantined}  unlinked items {rep.unlinked_items}",
    ]
    if rep.items and rep.unlinked_items > UNLINKED_WARNING_SHARE * rep.items:
        lines.append(f"  warning: {rep.unlinked_items / rep.items:.0%} of the items have a food code the composition "
                     "source lacks: check the spec's `composition` (SR codes need sr28, FNDDS codes fndds-2017-2018)")
    if rep.day_totals:
        lines.append("  day totals: the file gives per-day totals, so there are no items and no food contributions; "
                     "components it does not carry are NULL")
    if rep.top_quarantine:
        lines.append("  quarantined: " + "; ".join(f"{reason} x{n}" for reason, n in rep.top_quarantine))
    if rep.coverage:
        lines.append("  coverage: " + coverage_line(rep.coverage))
    lines += [f"  {line}" for line in (*rep.indices, *rep.estimated)]
    if rep.sources:
        from gutaxis.source_status import FNDDS, summary_lines

        lines += ["  " + line for line in summary_lines(FNDDS if FNDDS in rep.sources else "", rep.sources)]
    if rep.html_report:
        lines.append(f"  report: {rep.html_report}")
    lines.append(f"  checks: {rep.checks_passed} passed, {len(rep.checks_failed)} failed, {len(rep.checks_warned)} warned")
    lines += [f"  FAILED {c}" for c in rep.checks_failed]
    for label in rep.checks_warned:
        lines.append(f"  warned {label}")
        rows = rep.warned_rows.get(label) or []
        if rows:
            lines.append(f"    first {len(rows)}: " + "; ".join(_offending_row(*row) for row in rows))
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


def headline(rep: CohortReport) -> dict[str, int]:
    """The counts a researcher looks at first (asset metadata, the markdown preview)."""
    return {"participants": rep.participants, "recall days": rep.days, "items": rep.items,
            "excluded recalls": rep.excluded_recalls, "quarantined rows": rep.quarantined,
            "unlinked items": rep.unlinked_items}


def format_markdown(rep: CohortReport) -> str:
    """The per-cohort summary as markdown (the Dagster UI shows it with the published asset): the
    counts, coverage per component, then the text summary `gutaxis run` prints."""
    counts = headline(rep)
    lines = [f"**cohort {rep.cohort}: {rep.outcome}**", "",
             "| " + " | ".join(counts) + " |", "|" + "---:|" * len(counts),
             "| " + " | ".join(f"{v:,}" for v in counts.values()) + " |", ""]
    if rep.coverage:
        lines += ["| component | coverage (share of grams with a value) |", "|---|---:|"]
        lines += [f"| {c} | {v:.0%} |" for c, v in rep.coverage.items() if v is not None]
        lines.append("")
    lines += ["```", format_report(rep), "```"]
    return "\n".join(lines)
