"""The analysis steps of a cohort run, on the run's staged tables (shared by the Dagster assets and
notebooks): participants, outcomes, estimates and associations, and their blocking checks. They stage
into store.*__COHORT__RUN like the diary steps, so that one publish transaction makes the exposures and
their analysis visible together, or neither (a failed analysis leaves everything published as it was)."""
from __future__ import annotations

import duckdb
import polars as pl

from gutaxis import GutaxisError, warehouse
from gutaxis.analysis.analyses import (ASSOCIATION_SCHEMA, POPULATION_SCHEMA, analysis_frame, finite_with_ci,
                                       run_association, run_estimates)
from gutaxis.analysis.cohort_tables import DIARY_ID_COLUMN, build_outcomes, build_participants, dietary_weights
from gutaxis.analysis.declarations import AnalysisDeclarations, analyses_for, check_declarations
from gutaxis.analysis.outcomes import outcome_registry
from gutaxis.analysis.participants import PARTICIPANT_SCHEMA
from gutaxis.components import units
from gutaxis.specs import CohortSpec

STORED_PARTICIPANT_COLUMNS = warehouse.COHORT_TABLES["cohort.participants"]
PHQ9_RANGE = (0, 27)


def declarations(spec: CohortSpec) -> AnalysisDeclarations:
    data = {"participants": spec.participants, "outcomes": spec.outcomes, "design": spec.design,
            "analyses": spec.analyses}
    return check_declarations(data, spec.spec_path or spec.name)


def declares_analysis(spec: CohortSpec) -> bool:
    declared = declarations(spec)
    return bool(declared.participants or declared.outcomes or declared.design or analyses_for(spec.name, declared.analyses))


def stage_participants(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> dict:
    """Replace the run's staged participants with cohort.participants' full rows (attributes, design,
    dietary weights, has_usable_recall); a cohort that declares no analysis keeps the diary's rows."""
    declared = declarations(spec)
    analyses_for(spec.name, declared.analyses)  # a bad analysis file fails the run before anything is staged
    if not declares_analysis(spec):
        return {"participants": "diary only (no analysis declared)"}
    table = warehouse.staging_table("participants", spec.name, run_key)
    diary = conn.sql(f"SELECT participant_id, external_id FROM {table}").pl()
    usable = conn.sql(f"SELECT DISTINCT participant_id FROM "
                      f"{warehouse.staging_table('participant_exposure', spec.name, run_key)}").pl()["participant_id"]
    id_column = spec.columns.get("participant_id") if spec.format not in DIARY_ID_COLUMN else DIARY_ID_COLUMN[spec.format]
    weights = dietary_weights(spec.data_files(), spec.format, id_column, spec.delimiter)
    participants = build_participants(spec.name, spec.base_dir, declared.participants, diary["participant_id"],
                                      usable, weights)
    _refuse_missing_design_columns(participants, declared, spec)
    stored = _stored_participants(participants.join(diary, on="participant_id", how="left"))
    warehouse.stage_parts(conn, "participants", spec.name, run_key, [({}, stored)], STORED_PARTICIPANT_COLUMNS)
    without_recall = stored.filter(~pl.col("has_usable_recall")).height
    return {"participants": stored.height, "without usable recall (kept, flagged)": without_recall,
            "dietary weights": ", ".join(c for c in ("wt_day1", "wt_two_day") if stored[c].null_count() < stored.height)
            or "none"}


def _refuse_missing_design_columns(participants: pl.DataFrame, declared: AnalysisDeclarations, spec: CohortSpec) -> None:
    design = declared.design
    if design is None:
        return
    for role, column in (("strata", design.strata), ("psu", design.psu),
                         *((("weight", design.weight),) if design.weight != "auto" else ())):
        if column not in participants.columns:
            raise GutaxisError(f"{spec.spec_path}: design {role} column {column!r} is not in the participants; map it in "
                               "a participants table (e.g. columns: {stratum: SDMVSTRA}) or fix the design")
    cycles = participants["cycle"].drop_nulls().n_unique()
    if cycles > design.cycles:
        raise GutaxisError(f"{spec.spec_path}: participants come from {cycles} survey cycles but the design says cycles: "
                           f"{design.cycles}; pooled NHANES cycles divide the weights: set design cycles: {cycles}")


def _stored_participants(frame: pl.DataFrame) -> pl.DataFrame:
    extras = [c for c in frame.columns if c not in PARTICIPANT_SCHEMA and c != "external_id"]
    extra = (pl.struct([pl.col(c).cast(pl.String) for c in extras]).struct.json_encode() if extras
             else pl.lit(None, pl.String)).alias("extra_attributes")
    if "external_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("external_id"))
    return frame.with_columns(extra).select(STORED_PARTICIPANT_COLUMNS)


def stage_outcomes(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> dict:
    declared = declarations(spec)
    outcomes = build_outcomes(spec.name, spec.base_dir, declared.outcomes)
    warehouse.stage_parts(conn, "outcomes", spec.name, run_key, [({}, outcomes)], warehouse.COHORT_TABLES["cohort.outcomes"])
    counts = outcomes.group_by("outcome_id").len().sort("outcome_id")
    return {"measurements": outcomes.height, **{f"{o}": n for o, n in counts.iter_rows()}}


def staged_analysis_frame(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per participant, the oxytocin rows) from the run's staged tables."""
    participants = conn.sql(f"SELECT * FROM {warehouse.staging_table('participants', spec.name, run_key)}").pl()
    for name, dtype in PARTICIPANT_SCHEMA.items():
        if name not in participants.columns:
            participants = participants.with_columns(pl.lit(None, dtype).alias(name))
    if "extra_attributes" in participants.columns and participants["extra_attributes"].null_count() < participants.height:
        decoded = participants["extra_attributes"].str.json_decode().struct.unnest()
        # extra attributes are stored as text; one whose every value is a number is analysed as a number
        numeric = [c for c in decoded.columns
                   if decoded[c].cast(pl.Float64, strict=False).null_count() == decoded[c].null_count()]
        participants = participants.with_columns(decoded.with_columns(pl.col(numeric).cast(pl.Float64)))
    participants = participants.drop("extra_attributes", "external_id", "cohort", strict=False)
    table = warehouse.staging_table("participant_exposure", spec.name, run_key)
    name = table.split(".", 1)[1].strip('"')
    selects = warehouse._published_selects(conn, "marts.participant_exposure", spec.name, name, units())
    exposures = conn.sql("SELECT participant_id, n_days, component_id, mean_daily, per_1000kcal FROM ("
                         + " UNION ALL ".join(selects) + ")").pl()
    outcomes_table = warehouse.staging_table("outcomes", spec.name, run_key)
    outcomes = conn.sql(f"SELECT * FROM {outcomes_table}").pl() if warehouse.table_exists(conn, outcomes_table) \
        else pl.DataFrame(schema={"participant_id": pl.String, "outcome_id": pl.String, "value": pl.Float64})
    kinds = dict(outcome_registry().select("outcome_id", "kind").iter_rows())
    index_table = warehouse.staging_table("participant_index", spec.name, run_key)
    indices = conn.sql(f"SELECT CAST(participant_id AS VARCHAR) AS participant_id, index_id, component, score "
                       f"FROM {index_table}").pl() if warehouse.table_exists(conn, index_table) else None
    participants = participants.with_columns(pl.col("participant_id").cast(pl.String))
    frame = analysis_frame(participants, exposures, outcomes, kinds, indices)
    return frame, outcomes.filter(pl.col("outcome_id") == "oxytocin")


def stage_estimates(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> dict:
    """Run the cohort's analyses (inline and data/analyses/*.yaml naming it) and stage their rows."""
    declared = declarations(spec)
    chosen = analyses_for(spec.name, declared.analyses)
    population = [pl.DataFrame(schema=POPULATION_SCHEMA)]
    associations = [pl.DataFrame(schema=ASSOCIATION_SCHEMA)]
    if chosen:
        frame, oxytocin = staged_analysis_frame(conn, spec, run_key)
        kinds = dict(outcome_registry().select("outcome_id", "kind").iter_rows())
        for analysis in chosen:
            if analysis.kind == "estimates":
                population.append(run_estimates(spec.name, frame, declared.design, analysis, kinds, oxytocin))
            else:
                associations.append(run_association(spec.name, frame, declared.design, analysis, kinds, units()))
    population.append(_index_population_rows(conn, spec, run_key, declared.design))
    population_rows, association_rows = pl.concat(population), pl.concat(associations)
    warehouse.stage_parts(conn, "population_estimates", spec.name, run_key, [({}, population_rows)],
                          warehouse.COHORT_TABLES["marts.population_estimates"])
    warehouse.stage_parts(conn, "association_estimates", spec.name, run_key, [({}, association_rows)],
                          warehouse.COHORT_TABLES["marts.association_estimates"])
    not_computable = association_rows.filter(pl.col("status") != "estimated")
    return {"analyses": len(chosen), "population estimates": population_rows.height,
            "association rows": association_rows.height - not_computable.height,
            "hypotheses not computable": not_computable.height}


def _index_population_rows(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str, design) -> pl.DataFrame:
    """The indices' population-ratio rows (gutaxis.indices.steps), for every cohort whose indices were scored."""
    from gutaxis.indices.steps import index_population_rows  # the index step imports this module's checks

    participants = conn.sql(f"SELECT * FROM {warehouse.staging_table('participants', spec.name, run_key)}").pl()
    return index_population_rows(conn, spec.name, run_key, design if declares_analysis(spec) else None, participants)


# --- blocking checks -------------------------------------------------------------------------------

def _result(check: str, column: str | None, bad: int, total: int, detail: str, table: str) -> dict:
    return {"suite": "analysis", "table_name": table, "check": check, "column": column, "severity": "block",
            "success": bad == 0, "unexpected_count": bad, "element_count": total, "detail": detail if bad else ""}


def _record(conn, spec: CohortSpec, run_key: str, suite: str, rows: list[dict]) -> pl.DataFrame:
    results = pl.DataFrame(rows, schema={"suite": pl.String, "table_name": pl.String, "check": pl.String,
                                         "column": pl.String, "severity": pl.String, "success": pl.Boolean,
                                         "unexpected_count": pl.Int64, "element_count": pl.Int64, "detail": pl.String})
    results = results.with_columns(pl.lit(suite).alias("suite"))
    conn.execute("DELETE FROM audit.validations WHERE run_id = ? AND suite = ?", [run_key, suite])
    warehouse.append_audit(conn, "audit.validations", results, run_id=run_key, cohort=spec.name,
                           validated_at=warehouse.utc_now())
    return results


def check_participants(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> pl.DataFrame:
    """Where a design is declared: every participant has its stratum and PSU, and the design's weight
    (the named one, else the interview weight) present and > 0; no weight is negative or infinite."""
    if not declares_analysis(spec):  # the diary's own participants: ids only, nothing to check
        return _record(conn, spec, run_key, "analysis_participants", [])
    table = warehouse.staging_table("participants", spec.name, run_key)
    frame = conn.sql(f"SELECT * FROM {table}").pl()
    design = declarations(spec).design
    rows = []
    if design is not None and "stratum" in frame.columns:
        base = design.weight if design.weight != "auto" else "wt_interview"
        columns = [c for c in ("stratum", "psu") if c in frame.columns]
        if base in frame.columns:
            bad = frame.filter(pl.col(base).is_null() | ~(pl.col(base).cast(pl.Float64) > 0))
            first = f" (first participant {bad['participant_id'][0]})" if bad.height else ""
            rows.append(_result("design weight present and > 0", base, bad.height, frame.height,
                                f"{base} is missing or <= 0{first}: every participant of a survey design needs a weight",
                                table))
        for column in columns:
            bad = frame.filter(pl.col(column).is_null())
            first = f" (first participant {bad['participant_id'][0]})" if bad.height else ""
            rows.append(_result(f"{column} present", column, bad.height, frame.height,
                                f"{column} is missing{first}: give every participant its design, e.g. in the DEMO file",
                                table))
    for column in ("wt_interview", "wt_mec", "wt_day1", "wt_two_day"):
        if column in frame.columns:
            bad = frame.filter(pl.col(column).is_not_null() & ~(pl.col(column).is_finite() & (pl.col(column) >= 0)))
            rows.append(_result(f"{column} >= 0", column, bad.height, frame.height, f"{column} negative or not finite",
                                table))
    return _record(conn, spec, run_key, "analysis_participants", rows)


def check_outcomes(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> pl.DataFrame:
    """PHQ-9 totals within 0-27, and every outcome within its registry range."""
    table = warehouse.staging_table("outcomes", spec.name, run_key)
    frame = conn.sql(f"SELECT * FROM {table}").pl()
    phq = frame.filter(pl.col("outcome_id") == "phq9_total")
    bad = phq.filter(~pl.col("value").is_between(*PHQ9_RANGE))
    rows = [_result("phq9_total within 0-27", "value", bad.height, phq.height, "PHQ-9 total outside 0-27", table)]
    for entry in outcome_registry().iter_rows(named=True):
        values = frame.filter(pl.col("outcome_id") == entry["outcome_id"])
        bad = values.filter(~pl.col("value").is_between(entry["low"], entry["high"]))
        rows.append(_result(f"{entry['outcome_id']} within {entry['low']:g}-{entry['high']:g}", "value", bad.height,
                            values.height, f"{entry['outcome_id']} outside its registry range", table))
    return _record(conn, spec, run_key, "analysis_outcomes", rows)


def check_estimates(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> pl.DataFrame:
    """Estimates finite with their CI containing them; a stratum with fewer than 2 PSUs only with the
    lonely-PSU rule recorded in the row's method."""
    rows = []
    if not declares_analysis(spec):
        return _record(conn, spec, run_key, "analysis_estimates", [])
    design = declarations(spec).design
    participants = conn.sql(f"SELECT * FROM {warehouse.staging_table('participants', spec.name, run_key)}").pl()
    for kind in ("population_estimates", "association_estimates"):
        table = warehouse.staging_table(kind, spec.name, run_key)
        frame = conn.sql(f"SELECT * FROM {table}").pl()
        bad = finite_with_ci(frame)
        rows.append(_result("estimates finite, CI contains them", "estimate", bad.height, frame.height,
                            "; ".join(f"{r.get('analysis_id') or r.get('hypothesis_id')}: {r['variable'] if 'variable' in r else r['contrast']}"
                                      for r in bad.head(3).iter_rows(named=True)), table))
        lonely_unrecorded = unrecorded_lonely_psu(frame, participants, design)
        rows.append(_result("2+ PSUs per stratum or lonely-PSU rule recorded", "method", lonely_unrecorded, frame.height,
                            "a stratum with one PSU and no lonely-PSU rule recorded", table))
    return _record(conn, spec, run_key, "analysis_estimates", rows)


def unrecorded_lonely_psu(estimates: pl.DataFrame, participants: pl.DataFrame, design) -> int:
    """Estimate rows whose weight's subsample has a stratum with fewer than 2 PSUs but whose method does not
    record the lonely-PSU rule and those strata."""
    if design is None or not estimates.height or design.strata not in participants.columns:
        return 0
    unrecorded = 0
    for weight, method, n in (estimates.filter(pl.col("method").is_not_null()).group_by("weight", "method")
                              .len().iter_rows()):
        column = weight.split(" ")[0]
        if column not in participants.columns:
            continue
        used = participants.filter(pl.col(column).fill_null(0) > 0)
        lonely = used.group_by(design.strata).agg(pl.col(design.psu).n_unique().alias("n")).filter(pl.col("n") < 2)
        if lonely.height and f"lonely PSU: {design.lonely_psu} (strata" not in method:
            unrecorded += n
    return unrecorded


def analysis_summary(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str) -> list[str]:
    """What a run estimated, for the run summary: per analysis, its rows and weights; hypotheses not computable."""
    lines = []
    population = warehouse.staging_table("population_estimates", cohort, run_key)
    associations = warehouse.staging_table("association_estimates", cohort, run_key)
    if warehouse.table_exists(conn, population):
        for analysis_id, n, weights in conn.execute(
                f"SELECT analysis_id, count(*), string_agg(DISTINCT weight, ', ') FROM {population} "
                "GROUP BY analysis_id ORDER BY analysis_id").fetchall():
            lines.append(f"estimates {analysis_id}: {n} rows (weight {weights})")
    if warehouse.table_exists(conn, associations):
        for hypothesis, n, status in conn.execute(
                f"SELECT hypothesis_id, count(*) FILTER (WHERE status = 'estimated'), "
                f"string_agg(DISTINCT status, '; ') FILTER (WHERE status <> 'estimated') FROM {associations} "
                "GROUP BY hypothesis_id ORDER BY hypothesis_id").fetchall():
            lines.append(f"hypothesis {hypothesis}: " + (f"{n} contrasts" if n else status))
    return lines
