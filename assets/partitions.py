"""One dynamic partition per cohort (the cohort spec's name)."""
import sys

import dagster as dg

from gutaxis import GutaxisError, stages
from gutaxis.specs import CohortSpec, resolve_cohort

cohort_partitions = dg.DynamicPartitionsDefinition(name="cohorts")
SPEC_TAG = "gutaxis/spec"  # a one-off run names its spec file here instead of data/cohorts/NAME.yaml


def run_key(context) -> str:
    return stages.run_key(context.run.run_id)


def partition_key(context) -> str:
    # asset contexts carry the key directly; asset-check contexts through their op context
    return context.partition_key if isinstance(context, dg.AssetExecutionContext) else context.op_execution_context.partition_key


def cohort_spec(context) -> CohortSpec:
    spec_path = context.run.tags.get(SPEC_TAG)
    key = partition_key(context)
    spec = resolve_cohort(spec_path or key)
    if spec.name != key:
        raise GutaxisError(f"{spec.spec_path}: spec name {spec.name!r} differs from partition {key!r}")
    return spec


def log_stage(context, stage: str) -> None:
    """A stage line on stderr and in the Dagster log (tests and operators follow a run by these)."""
    message = f"stage {stage}: cohort {partition_key(context)} run {run_key(context)}"
    context.log.info(message)
    print(f"gutaxis: {message}", file=sys.stderr, flush=True)
