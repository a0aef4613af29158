"""The index step of a cohort run, on the run's staged tables (shared by the Dagster asset and notebooks):
every registered index scored per participant-day and per participant, staged into
store.day_index__COHORT__RUN / store.participant_index__COHORT__RUN and published with the exposures;
the blocking checks; the run-summary lines; and the population-ratio rows of marts.population_estimates."""
from __future__ import annotations

import duckdb
import polars as pl

from gutaxis import GutaxisError, warehouse
from gutaxis.analysis.analyses import POPULATION_SCHEMA, choose_weight, survey_design, with_srs_design, _weight_label
from gutaxis.analysis.declarations import Design
from gutaxis.analysis.steps import _record, _result
from gutaxis.indices import INDICES, TOTAL, available_components
from gutaxis.indices.population import population_scores
from gutaxis.indices.scoring import complete_rows, participant_means
from gutaxis.specs import CohortSpec

# A total and the sum of its components may differ by the rounding of 14 additions, no more.
SUM_TOLERANCE = 1e-9
COMPUTED = "computed"
NOT_REQUESTED = "not computed: the cohort spec's `indices` leaves it out"
NO_POPULATION_RATIO = ("not estimated: the index scores against the cohort's own distribution (medians or deciles), "
                       "which a group's mean intakes do not have")


def staged_days(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str) -> pl.DataFrame:
    """One row per participant-day of the run: participant_id (text), recall_day and a column per
    component with a value in the run (the staged wide table has none for a component without a source)."""
    table = warehouse.staging_table("day_exposure", cohort, run_key)
    amounts = [c for c in warehouse.column_names(conn, table) if c.startswith("amount__")]
    columns = ", ".join(f"{warehouse.ident(c)} AS {warehouse.ident(c.split('__', 1)[1])}" for c in amounts)
    return conn.sql(f"SELECT CAST(participant_id AS VARCHAR) AS participant_id, CAST(recall_day AS INTEGER) AS recall_day"
                    f"{', ' + columns if columns else ''} FROM {table}").pl()


def staged_participants(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str) -> pl.DataFrame:
    """The run's staged participants (attributes and design where the cohort declares them), ids as text."""
    table = warehouse.staging_table("participants", cohort, run_key)
    frame = conn.sql(f"SELECT * FROM {table}").pl()
    return frame.with_columns(pl.col("participant_id").cast(pl.String))


def stage_indices(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> dict:
    """Score every registered index the cohort's components allow; stage the scores and record, per
    index, computed or "not computable: missing X" in audit.index_status."""
    wanted = [i for i in INDICES if spec.indices is None or i in spec.indices]
    # a cohort that asks for no index does not read its participant-days at all
    days = staged_days(conn, spec.name, run_key) if wanted else None
    participants = staged_participants(conn, spec.name, run_key) if wanted else None
    available = available_components(days) if wanted else []
    day_parts, participant_parts, status, thresholds = [], [], [], []
    for index in INDICES.values():
        reason = index.not_computable(available) if index.index_id in wanted else NOT_REQUESTED
        if reason:
            status.append({"index_id": index.index_id, "status": reason, "participant_days": 0, "participants": 0})
            continue
        per_day = index.day_scores(days, participants)
        per_participant = index.participant_scores(days, participants).drop("recall_day")
        cuts = index.cut_points(days, participants)
        if cuts is not None:
            thresholds.append(cuts.select("index_id", "scope", "sex", "component", "kind",
                                          pl.col("median").alias("threshold"), "n"))
        day_parts.append(({"cohort": spec.name, "index_id": index.index_id}, per_day))
        participant_parts.append(({"cohort": spec.name, "index_id": index.index_id}, per_participant))
        # every scored participant(-day) has exactly one total row: counting those is counting the distinct keys
        status.append({"index_id": index.index_id, "status": COMPUTED,
                       "participant_days": per_day.filter(pl.col("component") == TOTAL).height,
                       "participants": per_participant.filter(pl.col("component") == TOTAL).height})
    warehouse.stage_parts(conn, "day_index", spec.name, run_key, day_parts or [({"cohort": spec.name, "index_id": ""},
                          _empty(with_day=True))], warehouse.COHORT_TABLES["marts.participant_day_index"])
    warehouse.stage_parts(conn, "participant_index", spec.name, run_key,
                          participant_parts or [({"cohort": spec.name, "index_id": ""}, _empty(with_day=False))],
                          warehouse.COHORT_TABLES["marts.participant_index"])
    conn.execute("DELETE FROM audit.index_status WHERE run_id = ?", [run_key])
    conn.execute("DELETE FROM audit.index_thresholds WHERE run_id = ?", [run_key])
    if thresholds:
        warehouse.append_audit(conn, "audit.index_thresholds", pl.concat(thresholds, how="vertical_relaxed"),
                               run_id=run_key, cohort=spec.name)
    statuses = pl.DataFrame(status, schema={"index_id": pl.String, "status": pl.String, "participant_days": pl.Int64,
                                            "participants": pl.Int64})
    warehouse.append_audit(conn, "audit.index_status", statuses.with_columns(pl.lit(None, pl.String).alias("population")),
                           run_id=run_key, cohort=spec.name)
    return {f"index {s['index_id']}": (f"{s['participants']} participants, {s['participant_days']} participant-days"
                                       if s["status"] == COMPUTED else s["status"]) for s in status}


def _empty(with_day: bool) -> pl.DataFrame:
    schema = {"participant_id": pl.String, **({"recall_day": pl.Int32} if with_day else {}), "component": pl.String,
              "score": pl.Float64, "max_score": pl.Float64}
    return pl.DataFrame(schema=schema)


def check_indices(conn: duckdb.DuckDBPyConnection, spec: CohortSpec, run_key: str) -> pl.DataFrame:
    """Blocking: every score within 0..max_score (-max_score..max_score for an index with negative parts, the
    DII) and not NULL; every total equal to the sum of its components; every scored participant(-day) with
    each component of its index (for the DII, each parameter the cohort has)."""
    rows = []
    expected = {i.index_id: len(i.max_scores) + 1 for i in INDICES.values() if not i.optional}
    # an index with optional components (the DII) scores the ones the cohort has: the same for every row
    lower = " ".join(f"WHEN '{i.index_id}' THEN -max_score" for i in INDICES.values() if i.min_scores)
    minimum = f"CASE index_id {lower} ELSE 0 END" if lower else "0"
    for kind, keys in (("day_index", "participant_id, recall_day"), ("participant_index", "participant_id")):
        table = warehouse.staging_table(kind, spec.name, run_key)
        out_of_range = f"score IS NULL OR score < {minimum} OR score > max_score"
        total, bad, first = conn.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {out_of_range}), any_value(index_id || ' ' || component || "
            f"' of participant ' || participant_id) FILTER (WHERE {out_of_range}) FROM {table}").fetchall()[0]
        rows.append(_result("score within 0..max_score", "score", bad, total,
                            f"a score outside its range (first: {first})", table))
        # one pass over the groups (index, participant(-day)): their sums, and how many rows each has,
        # returned as a histogram per index (a few rows, not one per participant-day)
        bad_sum = f"total IS NULL OR abs(total - parts) > {SUM_TOLERANCE}"
        histogram = conn.execute(
            f"WITH g AS (SELECT index_id, {keys}, sum(score) FILTER (WHERE component = '{TOTAL}') AS total, "
            f"sum(score) FILTER (WHERE component <> '{TOTAL}') AS parts, count(*) AS n FROM {table} "
            f"GROUP BY index_id, {keys}) "
            f"SELECT index_id, n, count(*), count(*) FILTER (WHERE {bad_sum}), "
            f"any_value(index_id || ' of participant ' || participant_id) FILTER (WHERE {bad_sum}) "
            f"FROM g GROUP BY index_id, n").fetchall()
        groups = sum(h[2] for h in histogram)
        first_bad = next((h[4] for h in histogram if h[3]), None)
        rows.append(_result("total equals the sum of its components", "score", sum(h[3] for h in histogram), groups,
                            f"a total that is not the sum of its components (first: {first_bad})", table))
        widest = {}
        for index_id, n, _, _, _ in histogram:
            widest[index_id] = max(widest.get(index_id, 0), n)
        incomplete = sum(count for index_id, n, count, _, _ in histogram
                         if expected.get(index_id, widest[index_id]) != n)
        rows.append(_result("every component of the index scored", "component", incomplete, groups,
                            "a participant scored on some components of an index only", table))
    return _record(conn, spec, run_key, "indices", rows)


def index_summary(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str) -> list[str]:
    """Run-summary lines: per index, computed (participants, days, mean total) or not computable and why."""
    lines = []
    table = warehouse.staging_table("participant_index", cohort, run_key)
    means = dict(conn.execute(f"SELECT index_id, avg(score) FROM {table} WHERE component = '{TOTAL}' GROUP BY index_id")
                 .fetchall()) if warehouse.table_exists(conn, table) else {}
    for index_id, status, days, participants, population in conn.execute(
            "SELECT index_id, status, participant_days, participants, population FROM audit.index_status "
            "WHERE run_id = ? ORDER BY index_id", [run_key]).fetchall():
        if status == COMPUTED:
            mean = f", mean total {means[index_id]:.1f}" if means.get(index_id) is not None else ""
            ratio = f"; population ratio {population}" if population else ""
            lines.append(f"index {index_id}: computed for {participants} participants ({days} participant-days{mean})"
                         f"{ratio}")
        else:
            lines.append(f"index {index_id}: {status}")
    return lines


def index_population_rows(conn: duckdb.DuckDBPyConnection, cohort: str, run_key: str, design: Design | None,
                          participants: pl.DataFrame) -> pl.DataFrame:
    """marts.population_estimates rows of every computed index by the population ratio method (analysis_id
    index-<index_id>, statistic ratio): overall and by sex where known, over participants aged 2 and over
    (or of unknown age), survey-weighted where the cohort declares a design (else a simple random sample)."""
    rows = []
    status = dict(conn.execute("SELECT index_id, status FROM audit.index_status WHERE run_id = ?", [run_key]).fetchall())
    computed = [INDICES[i] for i, s in status.items() if s == COMPUTED and i in INDICES]
    for index in computed:
        if not index.population_ratio:
            conn.execute("UPDATE audit.index_status SET population = ? WHERE run_id = ? AND index_id = ?",
                         [NO_POPULATION_RATIO, run_key, index.index_id])
    computed = [index for index in computed if index.population_ratio]
    if not computed:
        return pl.DataFrame(schema=POPULATION_SCHEMA)
    days = staged_days(conn, cohort, run_key)
    available = available_components(days)
    frame = participants.with_columns(pl.col("participant_id").cast(pl.String))
    if design is None:
        frame = with_srs_design(frame)
    by = ["sex"] if "sex" in frame.columns and frame["sex"].null_count() < frame.height else []
    ages = pl.col("age_years").is_null() | (pl.col("age_years") >= 2) if "age_years" in frame.columns else pl.lit(True)
    for index in computed:
        inputs = index.inputs(available)
        scored = complete_rows(days.select("participant_id", "recall_day", *inputs), inputs)
        means = participant_means(scored).drop("recall_day").join(
            scored.group_by("participant_id").len("n_days"), on="participant_id")
        data = frame.drop([c for c in (*inputs, "n_days") if c in frame.columns]).join(
            means, on="participant_id", how="left")
        try:
            weight = choose_weight(data, design, [f"{inputs[0]}_mean_daily"], set())
            found = population_scores(index, data, survey_design(design, weight), ages, by, _weight_label(weight, design),
                                      inputs)
            note = f"estimated (weight {_weight_label(weight, design)})"
        except GutaxisError as exc:  # the cohort's own analyses name its design problems; the scores stand
            found, note = [], f"not estimated: {exc}"
        conn.execute("UPDATE audit.index_status SET population = ? WHERE run_id = ? AND index_id = ?",
                     [note, run_key, index.index_id])
        rows += [{"cohort": cohort, "analysis_id": f"index-{index.index_id}", **row} for row in found]
    return pl.DataFrame(rows, schema=POPULATION_SCHEMA)
