"""One dynamic partition per cohort (the cohort spec's name)."""
import dagster as dg

from gutaxis import GutaxisError, stages
from gutaxis.specs import CohortSpec, resolve_cohort

cohort_partitions = dg.DynamicPartitionsDefinition(name="cohorts")
SPEC_TAG = "gutaxis/spec"  # a one-off run names its spec file here instead of data/cohorts/NAME.yaml


def run_key(context) -> str:
    return stages.run_key(context.run_id)


def cohort_spec(context) -> CohortSpec:
    spec_path = context.run.tags.get(SPEC_TAG)
    spec = resolve_cohort(spec_path or context.partition_key)
    if spec.name != context.partition_key:
        raise GutaxisError(f"{spec.spec_path}: spec name {spec.name!r} differs from partition {context.partition_key!r}")
    return spec
