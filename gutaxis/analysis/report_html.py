"""The per-cohort HTML report (`gutaxis report COHORT`, Dagster asset `cohort_report`): one self-contained
page, plots as inline SVG, read from the published warehouse only (a read-only connection)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from string import Template

import duckdb
import numpy as np
import polars as pl

from gutaxis import GutaxisError, warehouse
from gutaxis.analysis import report_plots
from gutaxis.report import CohortReport, cohort_report

TEMPLATE = Path(__file__).with_name("templates") / "cohort_report.html"
# Above this many recall days the one-day histograms are drawn from a fixed hash-sample of the days:
# their shape and percentiles do not move visibly, and the report of a 6.7 M-day cohort stays seconds.
MAX_PLOTTED_DAYS = 200_000
TOP_FOODS = 10


def reports_dir(warehouse_file: str | Path | None = None) -> Path:
    """Where the pipeline writes each cohort's report: reports/ beside the warehouse (data/reports/)."""
    return warehouse.warehouse_path(warehouse_file).parent / "reports"


@dataclass
class ComponentSection:
    component_id: str
    name: str
    unit: str
    per_day: np.ndarray            # one-day values on the plotted scale
    low: np.ndarray                # the day belongs to a participant flagged low_coverage
    days_total: int                # days with a value, before any sampling
    coverage: float | None
    low_share: float
    usual: report_plots.Percentiles | None = None
    usual_note: str = ""
    usual_rows: list[dict] = field(default_factory=list)
    top_foods: list[tuple] = field(default_factory=list)

    @property
    def scale_unit(self) -> str:
        return f"{self.unit}/day" if self.component_id == "energy_kcal" else f"{self.unit} per 1000 kcal"

    @property
    def usual_unit(self) -> str:
        """The unit of the usual-intake rows on the plotted scale (gutaxis.analysis.usual_tables.scale_unit)."""
        from gutaxis.analysis.usual_tables import scale_unit

        return scale_unit(self.unit, "amount" if self.component_id == "energy_kcal" else "per_1000kcal")


@dataclass
class ReportData:
    cohort: str
    run: dict
    summary: CohortReport
    components: list[ComponentSection]
    unlinked_foods: list[tuple]
    quarantine_reasons: list[tuple]
    low_coverage_threshold: float | None
    population: pl.DataFrame
    associations: pl.DataFrame
    usual_table: str               # why no usual intake, or "" when the table exists
    indices: pl.DataFrame = field(default_factory=pl.DataFrame)  # per index: status and participant totals
    sampled_days: int = 0          # days the histograms drew on when the cohort has more than MAX_PLOTTED_DAYS


def _relation_exists(conn: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    return conn.execute("SELECT (SELECT count(*) FROM duckdb_tables() WHERE schema_name = $s AND table_name = $n) + "
                        "(SELECT count(*) FROM duckdb_views() WHERE schema_name = $s AND view_name = $n)",
                        {"s": schema, "n": name}).fetchall()[0][0] > 0


def _frame(conn: duckdb.DuckDBPyConnection, sql: str, params) -> pl.DataFrame:
    return conn.sql(sql, params=params).pl()


def published_cohorts(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [c for (c,) in conn.execute("SELECT DISTINCT cohort FROM store.published ORDER BY cohort").fetchall()]


def gather(conn: duckdb.DuckDBPyConnection, cohort: str) -> ReportData:
    """Everything the report shows, from the published contract tables and views and audit.*."""
    run_key = warehouse.published_run(conn, cohort)
    if run_key is None:
        known = ", ".join(published_cohorts(conn)) or "none"
        raise GutaxisError(f"cohort {cohort!r} is not published in this warehouse (published: {known}); "
                           f"run `gutaxis run --cohort {cohort}` first")
    summary = cohort_report(conn, cohort, run_key)
    run_rows = _frame(conn, "SELECT * FROM audit.runs WHERE run_id = ?", [run_key]).to_dicts()
    run = run_rows[0] if run_rows else {"run_id": run_key}
    threshold = _low_coverage_threshold(conn, cohort)
    usual_table = "" if _relation_exists(conn, "marts.usual_intake_distribution") else \
        "this warehouse has no usual-intake tables (published before they existed): run the cohort again"
    days, sampled = _days(conn, cohort, summary.days)
    sections = _components(conn, cohort, days, summary, usual_table)
    return ReportData(
        cohort=cohort, run=run, summary=summary, components=sections,
        unlinked_foods=conn.execute(
            "SELECT food_code, reason, sum(n_items) n, sum(grams) g FROM audit.linkage WHERE run_id = ? "
            "GROUP BY ALL ORDER BY g DESC NULLS LAST, n DESC, food_code LIMIT 10", [run_key]).fetchall(),
        quarantine_reasons=conn.execute(
            "SELECT reason, count(*) n, any_value(source_file) f FROM audit.quarantine WHERE run_id = ? "
            "GROUP BY reason ORDER BY n DESC, reason LIMIT 10", [run_key]).fetchall(),
        low_coverage_threshold=threshold,
        population=_frame(conn, "SELECT * FROM marts.population_estimates WHERE cohort = ? ORDER BY analysis_id, "
                                "variable, statistic, quantile NULLS FIRST, domain NULLS FIRST, domain_value", [cohort]),
        associations=_frame(conn, "SELECT * FROM marts.association_estimates WHERE cohort = ? ORDER BY hypothesis_id, "
                                  "subpopulation NULLS FIRST, contrast", [cohort]),
        usual_table=usual_table, sampled_days=sampled, indices=_indices(conn, cohort, run_key))


def _indices(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str) -> pl.DataFrame:
    """Per index of the run (audit.index_status): computed or why not, and the spread of the participants'
    published totals (marts.participant_index); empty for a warehouse published before the indices."""
    if not _relation_exists(conn, "audit.index_status") or not _relation_exists(conn, "marts.participant_index"):
        return pl.DataFrame()
    return _frame(conn, "SELECT s.index_id, s.status, s.participants, s.participant_days, "
                        "avg(p.score) AS mean_total, quantile_cont(p.score, 0.1) AS p10, "
                        "quantile_cont(p.score, 0.5) AS p50, quantile_cont(p.score, 0.9) AS p90, "
                        "any_value(p.max_score) AS max_score, s.population "
                        "FROM audit.index_status s LEFT JOIN marts.participant_index p ON p.cohort = s.cohort "
                        "AND p.index_id = s.index_id AND p.component = 'total' "
                        "WHERE s.run_id = ? AND s.cohort = ? GROUP BY ALL ORDER BY s.index_id", [run_key, cohort])


def _low_coverage_threshold(conn: duckdb.DuckDBPyConnection, cohort: str) -> float | None:
    """The spec's low-coverage threshold that the published run flagged participants by."""
    rows = conn.execute("SELECT s.low_coverage_threshold FROM store.exposure_settings s JOIN store.published p "
                        "ON p.table_name = s.table_name WHERE p.cohort = ? AND p.kind = 'participant_exposure'",
                        [cohort]).fetchall()
    return rows[0][0] if rows else None


def _days(conn: duckdb.DuckDBPyConnection, cohort: str, n_days: int) -> tuple[pl.DataFrame, int]:
    """Each day's amount of every component with the day's energy and the participant's low-coverage flag;
    a fixed hash-sample of the days when the cohort has more than MAX_PLOTTED_DAYS (then their number)."""
    share = 1.0 if n_days <= MAX_PLOTTED_DAYS else MAX_PLOTTED_DAYS / n_days
    params = {"cohort": cohort, "share": share}
    # the sampled days and their energy from the contract view (one component of it: cheap)
    energy = ("WITH energy AS MATERIALIZED (SELECT participant_id, recall_day, amount AS energy "
              "  FROM marts.participant_day_exposure WHERE cohort = $cohort AND component_id = 'energy_kcal' "
              "  AND ($share >= 1 OR hash(participant_id, recall_day) % 1000000 < $share * 1000000)) ")
    wide = _wide_days_sql(conn, cohort)
    if wide is not None:
        days = _frame(conn, energy + wide, params)
    else:  # tables published long (before exposures were stored wide): through the contract views
        days = _frame(conn, energy +
            "SELECT d.component_id, d.amount, e.energy, coalesce(p.low_coverage, false) AS low "
            "FROM marts.participant_day_exposure d JOIN energy e USING (participant_id, recall_day) "
            "LEFT JOIN marts.participant_exposure p ON p.cohort = d.cohort AND p.participant_id = d.participant_id "
            "  AND p.component_id = d.component_id "
            "WHERE d.cohort = $cohort AND d.amount IS NOT NULL", params)
    sampled = days.filter(pl.col("component_id") == "energy_kcal").height if share < 1 else 0
    return days, sampled


def _wide_days_sql(conn: duckdb.DuckDBPyConnection, cohort: str) -> str | None:
    """The rest of _days' query on the cohort's wide store tables: the sampled days' stored amounts and the
    participants' low-coverage flags (derived as marts.participant_exposure derives them), unpivoted here.
    The contract views gave the same rows but built a row per day or participant and registry component
    before the join (26 M participant rows for 333 k participants): most of the report's time. None when
    a table is stored long."""
    tables = dict(conn.execute("SELECT kind, table_name FROM store.published WHERE cohort = ? "
                               "AND kind IN ('day_exposure', 'participant_exposure')", [cohort]).fetchall())
    if len(tables) < 2:
        return None
    units = dict(conn.execute("SELECT component_id, unit FROM reference.components").fetchall())
    flags = warehouse.wide_participant_exposure_select(conn, tables["participant_exposure"], units,
                                                       measures=("low_coverage",))
    day_columns = warehouse.column_names(conn, "store." + warehouse.ident(tables["day_exposure"]))
    amounts = [c for c in day_columns if c.startswith("amount__")]
    if flags is None or "component_id" in day_columns or not amounts:
        return None
    day = warehouse.ident(tables["day_exposure"])
    components = [c.split("__", 1)[1] for c in amounts]
    # one row per sampled day with the participant's flags beside its amounts, then unpivoted by the pair
    # (amount, flag) of each component: no join of long rows
    pairs = ", ".join(f"({warehouse.ident(a)}, {warehouse.ident(c + '_low_coverage') if c in units else 'CAST(NULL AS BOOLEAN)'})"
                      f" AS {warehouse.ident(c)}" for a, c in zip(amounts, components))
    return (f", flags AS (SELECT * EXCLUDE (n_days) FROM ({flags}) WHERE participant_id IN (SELECT participant_id FROM energy)), "
            f"days AS (SELECT e.energy, f.* EXCLUDE (participant_id), {', '.join(warehouse.ident(c) for c in amounts)} "
            f"  FROM store.{day} t JOIN energy e "
            f"  ON e.participant_id = CAST(t.participant_id AS VARCHAR) AND e.recall_day = t.recall_day "
            f"  LEFT JOIN flags f ON f.participant_id = e.participant_id) "
            f"SELECT component_id, amount, energy, coalesce(low, false) AS low "
            f"FROM (UNPIVOT days ON {pairs} INTO NAME component_id VALUE amount, low) WHERE amount IS NOT NULL")


def _components(conn, cohort: str, days: pl.DataFrame, summary: CohortReport, usual_table: str) -> list[ComponentSection]:
    names = {c: (n, u) for c, n, u in conn.execute("SELECT component_id, name, unit FROM reference.components").fetchall()}
    coverage = {c: (m, low) for c, m, low in conn.execute(
        "SELECT component_id, avg(coverage), avg(CASE WHEN low_coverage THEN 1 ELSE 0 END) FROM marts.participant_exposure "
        "WHERE cohort = ? GROUP BY component_id", [cohort]).fetchall()}
    foods = conn.execute(
        "SELECT component_id, food_code, description, amount, share FROM marts.food_contributions WHERE cohort = ? "
        "QUALIFY row_number() OVER (PARTITION BY component_id ORDER BY amount DESC, food_code) <= ? "
        "ORDER BY component_id, amount DESC, food_code", [cohort, TOP_FOODS]).fetchall()
    usual = _usual_rows(conn, cohort) if not usual_table else pl.DataFrame()
    sections = []
    # split once (rows keep their order), not a filter of every sampled day-component row per component
    by_component = {key[0]: part for key, part in days.partition_by("component_id", as_dict=True).items()}
    for component_id in sorted(by_component, key=lambda c: (c != "energy_kcal", c)):
        name, unit = names.get(component_id, (component_id, ""))
        rows = by_component[component_id]
        if component_id == "energy_kcal":
            per_day = rows["amount"].to_numpy()
        else:
            rows = rows.filter(pl.col("energy") > 0)
            per_day = (rows["amount"] * 1000 / rows["energy"]).to_numpy()
        mean_coverage, low_share = coverage.get(component_id, (None, 0.0))
        section = ComponentSection(component_id, name, unit, per_day, rows["low"].to_numpy(), rows.height,
                                   mean_coverage, float(low_share or 0.0),
                                   top_foods=[f[1:] for f in foods if f[0] == component_id])
        _attach_usual(section, usual, usual_table)
        sections.append(section)
    return sections


def _usual_rows(conn, cohort: str) -> pl.DataFrame:
    return _frame(conn, "SELECT * FROM marts.usual_intake_distribution WHERE cohort = ?", [cohort])


def _attach_usual(section: ComponentSection, usual: pl.DataFrame, usual_table: str) -> None:
    """The component's usual-intake percentiles on the plotted scale (the whole cohort), or why there are none."""
    if usual_table:
        section.usual_note = usual_table
        return
    if usual.is_empty():
        section.usual_note = "the cohort spec declares no `usual_intake`"
        return
    rows = usual.filter(pl.col("component_id") == section.component_id)
    if rows.is_empty():
        section.usual_note = "not among the components the cohort's `usual_intake` names"
        return
    overall = rows.filter((pl.col("unit") == section.usual_unit) & (pl.col("domain") == "all"))
    section.usual_rows = overall.head(1).to_dicts()
    estimated = overall.filter((pl.col("status") == "estimated") & pl.col("percentile").is_not_null()
                               & pl.col("value").is_not_null())
    if estimated.is_empty():
        section.usual_note = (str(overall["status"][0]).removeprefix("not estimable: ") if overall.height
                              else f"no estimate in {section.usual_unit} (see usual_intake scales)")
        return
    section.usual = report_plots.Percentiles({round(p / 100.0, 4): v for p, v in estimated.select("percentile", "value").rows()},
                                             estimated["mean"][0])


# --- rendering -------------------------------------------------------------------------------------

def _number(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{value:,}"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return escape(str(value))
    if not np.isfinite(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 10 ** digits else f"{value:.{digits}g}"


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset(), caption: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f'<td class="num">{_number(v)}</td>' if i in numeric else f"<td>{escape('' if v is None else str(v))}</td>"
        for i, v in enumerate(row)) + "</tr>" for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _flow(data: ReportData) -> str:
    rep, run = data.summary, data.run
    steps = [("rows read from the diary files", run.get("rows_read")),
             ("quarantined (a row-level rule failed)", rep.quarantined),
             ("rows of excluded recalls", run.get("rows_excluded")),
             ("items published", rep.items),
             ("… of which unlinked (food code not in the composition source)", rep.unlinked_items),
             ("recall days published", rep.days),
             ("excluded recalls", rep.excluded_recalls),
             ("participants published", rep.participants)]
    html = [_table(["step", "count"], [[s, n] for s, n in steps], {1}, "From the files to the published rows")]
    if rep.excluded_reasons:
        html.append(_table(["why recalls were excluded", "recalls"], [list(r) for r in rep.excluded_reasons], {1}))
    if data.quarantine_reasons:
        html.append(_table(["why rows were quarantined (top 10)", "rows", "file"],
                           [list(r) for r in data.quarantine_reasons], {1}))
    if data.unlinked_foods:
        html.append(_table(["unlinked food code (top 10 by grams)", "reason", "items", "grams"],
                           [list(r) for r in data.unlinked_foods], {2, 3}))
    if rep.day_totals:
        html.append("<p>The diary gives per-day totals: there are no items, no unlinked foods and no food sources.</p>")
    return "\n".join(html)


def _coverage(data: ReportData) -> str:
    rows = [(s.component_id, s.coverage, s.low_share) for s in data.components if s.coverage is not None]
    missing = sorted(c for c, v in data.summary.coverage.items() if not v and c not in {s.component_id for s in data.components})
    html = [report_plots.coverage_plot("coverage", rows, data.low_coverage_threshold)] if rows else []
    if missing:
        html.append(f"<p>No source computed these components in this run (no plot): {escape(', '.join(missing))}.</p>")
    return "\n".join(html)


def _component(section: ComponentSection, sampled: int) -> str:
    title = f"{section.name} ({section.component_id})"
    note = f"; drawn from a fixed sample of {sampled:,} days" if sampled else ""
    plot = report_plots.distribution_plot(f"dist-{section.component_id}", title, section.scale_unit, section.per_day,
                                          section.low, section.usual, section.usual_note, section.low_share)
    badge = ' <span class="low">low coverage</span>' if section.low_share > 0 else ""
    parts = [f'<section class="component" id="c-{escape(section.component_id)}"><h3>{escape(title)}{badge}</h3>', plot,
             f"<p class=\"note\">{section.days_total:,} days with a value{note}; mean coverage "
             f"{'–' if section.coverage is None else f'{section.coverage:.1%}'}.</p>"]
    if section.usual_rows:
        first = section.usual_rows[0]
        facts = {k: first.get(k) for k in ("model", "lambda", "var_within", "var_between", "n_persons", "n_with_repeat",
                                           "status")}
        parts.append(_table(list(facts), [list(facts.values())], {1, 2, 3, 4, 5},
                            f"usual-intake model ({section.usual_unit}, whole cohort)"))
    if section.top_foods:
        parts.append(_table(["food code", "food", f"amount ({section.unit}, whole cohort)", "share"],
                            [[c, d, a, f"{s:.1%}"] for c, d, a, s in section.top_foods], {2}, "top 10 food sources"))
    parts.append("</section>")
    return "\n".join(parts)


def _population(frame: pl.DataFrame) -> str:
    if frame.is_empty():
        return "<p>The cohort declares no population estimates.</p>"
    columns = ["analysis_id", "variable", "statistic", "quantile", "domain", "domain_value", "estimate", "se",
               "ci_low", "ci_high", "n", "weight", "reliability_flag"]
    columns = [c for c in columns if c in frame.columns]
    numeric = {i for i, c in enumerate(columns) if c in {"quantile", "estimate", "se", "ci_low", "ci_high", "n"}}
    return _table(columns, frame.select(columns).rows(), numeric, "estimates with 95 % confidence intervals")


def _associations(frame: pl.DataFrame) -> str:
    if frame.is_empty():
        return "<p>The cohort declares no hypotheses.</p>"
    estimated = frame.filter((pl.col("status") == "estimated") & pl.col("estimate").is_not_null()
                             & pl.col("ci_low").is_not_null() & pl.col("ci_high").is_not_null())
    html = []
    for model, ratio, axis in (("logistic", True, "odds ratio (log scale), 95 % CI"),
                               ("linear", False, "difference in the outcome (its model's scale), 95 % CI")):
        rows = estimated.filter(pl.col("model") == model)
        if rows.is_empty():
            continue
        forest = [report_plots.ForestRow(
            " · ".join(str(v) for v in (r["hypothesis_id"], r.get("subpopulation"), r["contrast"]) if v not in (None, "all")),
            r["estimate"], r["ci_low"], r["ci_high"]) for r in rows.iter_rows(named=True)]
        html.append(report_plots.forest_plot(f"forest-{model}", f"associations: {model} models", forest, ratio, axis))
    columns = [c for c in ("hypothesis_id", "exposure", "exposure_scale", "contrast", "outcome", "model", "subpopulation",
                           "estimate", "ci_low", "ci_high", "p_value", "p_trend", "n", "covariates", "status")
               if c in frame.columns]
    numeric = {i for i, c in enumerate(columns) if c in {"estimate", "ci_low", "ci_high", "p_value", "p_trend", "n"}}
    html.append(_table(columns, frame.select(columns).rows(), numeric,
                       "every hypothesis row (estimates of logistic models are log odds ratios)"))
    return "\n".join(html)


def _indices_html(frame: pl.DataFrame) -> str:
    if frame.is_empty():
        return "<p>No diet-quality index was scored for this cohort (see the README, section \"Indices\").</p>"
    columns = ["index_id", "status", "participants", "participant_days", "mean_total", "p10", "p50", "p90",
               "max_score", "population"]
    numeric = {2, 3, 4, 5, 6, 7, 8}
    return _table(columns, frame.select(columns).rows(), numeric,
                  "per index: the participants' totals on their mean intakes (marts.participant_index; the DII "
                  "may be negative); the population ratio is among the population estimates (analysis_id index-<id>)")


def _provenance(data: ReportData) -> str:
    run = data.run
    rows = [["run id", run.get("run_id")], ["Dagster run id", run.get("dagster_run_id")],
            ["started (UTC)", run.get("started")], ["finished (UTC)", run.get("finished")],
            ["outcome", run.get("outcome")], ["code version", run.get("code_version")],
            ["spec sha256", run.get("spec_sha256")]]
    html = [_table(["", ""], rows, caption="the published run")]
    sources = json.loads(run.get("source_versions") or "{}")
    if sources:
        html.append(_table(["source", "version"], sorted(sources.items()), caption="sources the run drew on"))
    inputs = json.loads(run.get("input_sha256") or "{}")
    if inputs:
        html.append(_table(["input file", "sha256"], sorted(inputs.items()), caption="inputs"))
    rep = data.summary
    checks = [["passed", rep.checks_passed], ["failed", len(rep.checks_failed)], ["warned", len(rep.checks_warned)]]
    html.append(_table(["checks", "count"], checks, {1}))
    if rep.checks_warned:
        html.append("<ul>" + "".join(f"<li>warned: {escape(c)}</li>" for c in rep.checks_warned) + "</ul>")
    return "\n".join(html)


METHODS = """
<p>Exposures: each item's amount is grams × the composition value per 100 g / 100, or the value the instrument
reported for the item; a day is the sum of its items, a participant's mean daily intake the mean of their days.
Per 1000 kcal: 1000 × the component / energy of the same day (one-day values). Coverage is the share of a day's grams
with a value; participants below the spec's threshold are flagged low coverage, and their days are drawn in orange.</p>
<p>Usual intake (when the spec declares <code>usual_intake</code>) removes the day-to-day variation within a person
(the NCI method: Tooze et al., J Am Diet Assoc 2006;106:1575; Kipnis et al., Biometrics 2009;65:1003): the usual
distribution is narrower than the one-day one. Population estimates use the survey design (Taylor linearisation);
associations are design-weighted regressions. See the project README, sections "Method" and "Analysing".</p>
"""


def render(data: ReportData) -> str:
    """The page: the template filled with escaped text and the plots' SVG."""
    rep = data.summary
    published = data.run.get("finished")
    counts = "".join(f"<div><b>{_number(v)}</b><span>{escape(k)}</span></div>"
                     for k, v in (("participants", rep.participants), ("recall days", rep.days), ("items", rep.items),
                                  ("excluded recalls", rep.excluded_recalls), ("quarantined rows", rep.quarantined),
                                  ("unlinked items", rep.unlinked_items)))
    usual_reason = "" if any(s.usual for s in data.components) else (
        data.usual_table or next((s.usual_note for s in data.components if s.usual_note), ""))
    body = Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=escape(f"gutaxis report: cohort {data.cohort}"),
        cohort=escape(data.cohort),
        published=escape(f"published {published:%Y-%m-%d %H:%M} UTC" if isinstance(published, datetime) else ""),
        generated=escape(datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        counts=counts,
        flow=_flow(data),
        coverage=_coverage(data),
        usual_summary=escape(f"Usual intake was not estimated: {usual_reason}.") if usual_reason else "",
        components="\n".join(_component(s, data.sampled_days) for s in data.components)
        or "<p>No component has a value in this cohort.</p>",
        indices=_indices_html(data.indices),
        population=_population(data.population),
        associations=_associations(data.associations),
        methods=METHODS,
        provenance=_provenance(data))
    return body


def build_report(conn: duckdb.DuckDBPyConnection, cohort: str) -> str:
    return render(gather(conn, cohort))


@dataclass
class WrittenReport:
    path: Path
    plots: int
    size_bytes: int


def write_report(cohort: str, out: Path | None = None, warehouse_file: str | Path | None = None) -> WrittenReport:
    """Read the published warehouse (read-only) and write the cohort's report; the file is replaced
    atomically, so a reader never sees half a page."""
    out = Path(out) if out is not None else reports_dir(warehouse_file) / f"{cohort}.html"
    if out.suffix.lower() not in {".html", ".htm"}:
        raise GutaxisError(f"--out {out}: give a file ending .html")
    with warehouse.open_reader(warehouse_file) as conn:
        html = build_report(conn, cohort)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        raise GutaxisError(f"{out}: cannot write the report ({exc.strerror}); choose another --out") from None
    return WrittenReport(out, html.count("<svg "), len(html.encode("utf-8")))
