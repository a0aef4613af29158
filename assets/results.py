"""Turning engine results into Dagster check results and failures."""
from contextlib import contextmanager
from typing import Iterator

import dagster as dg
import polars as pl

from assets.partitions import cohort_spec, partition_key, run_key
from gutaxis import GutaxisError, interrupts, stages


def check_result(conn, cohort: str, key: str, results: pl.DataFrame) -> dg.AssetCheckResult:
    """Pass unless a blocking expectation failed; on failure the run's staging is dropped."""
    blocking = stages.blocking_failures(results)
    warned = results.filter((pl.col("severity") == "warn") & ~pl.col("success"))
    lines = [f"{r['suite']}.{r['check']}: {r['unexpected_count']} unexpected ({r['detail']})" for r in blocking.iter_rows(named=True)]
    if lines:
        stages.fail(conn, cohort, key, "; ".join(lines))
    return dg.AssetCheckResult(
        passed=not lines,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"passed": results.height - blocking.height - warned.height, "failed": blocking.height,
                  "warned": warned.height, "failures": "\n".join(lines) or "none"},
    )


def failure(exc: Exception) -> dg.Failure:
    return dg.Failure(description=str(exc), allow_retries=False)


@contextmanager
def recorded_failure(conn, cohort: str, key: str) -> Iterator[None]:
    """Any failure of a cohort step is recorded in audit.runs and its staging dropped, then re-raised;
    bad input (GutaxisError) becomes a one-line Dagster Failure without retries."""
    try:
        yield
    except GutaxisError as exc:
        stages.fail(conn, cohort, key, str(exc))
        raise failure(exc) from None
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        stages.fail(conn, cohort, key, f"internal error: {type(exc).__name__}: {first}")
        raise
    except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
        # Ctrl-C or SIGTERM: record it and drop the staging, without a snapshot copy (stop quickly);
        # a second signal waits for this, then the command stops (pipelines.runner).
        with interrupts.deferred():
            stages.fail(conn, cohort, key, "interrupted", snapshot=False)
        raise


def audited(context, warehouse_db, audit) -> dg.AssetCheckResult:
    """Run an engine audit (conn, spec, run key -> results) on the run's staged tables as a check."""
    key = run_key(context)
    with warehouse_db.writer() as conn, recorded_failure(conn, partition_key(context), key):
        spec = cohort_spec(context)
        return check_result(conn, spec.name, key, audit(conn, spec, key))
