"""What a cohort declares for analysis (DESIGN.md "Participants, outcomes and analysis"): attribute
tables (`participants:`), outcome tables (`outcomes:`), the survey design (`design:`), and analyses
inline (`analyses:`) or in data/analyses/ID.yaml with `cohorts: [...]`. Validated when the spec is
loaded, so that `gutaxis cohort check` and the run refuse a bad declaration in one line."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gutaxis import DATA_DIR, GutaxisError
from gutaxis.components import component_ids

# FPED food-group ids of the contract (DESIGN.md "Component ids and units"). A hypothesis may name them
# before the registry of a given checkout carries them: a cohort without the component reports the
# hypothesis as not computable instead of failing.
CONTRACT_FOOD_GROUPS = ("fg_fruit", "fg_dark_green_veg", "fg_legumes", "fg_whole_grains", "fg_nuts_seeds",
                        "fg_seafood_high_n3", "fg_yogurt", "fg_dairy")
# Participant attributes of cohort.participants an analysis may name (DESIGN.md).
ATTRIBUTES = ("sex", "age_years", "race_ethnicity", "income_poverty_ratio", "pregnant", "cycle")
DESIGN_COLUMNS = ("stratum", "psu", "wt_interview", "wt_mec", "wt_day1", "wt_two_day")
# What a `tabular` attribute table may map besides participant_id: the canonical attributes and design
# columns, or any other name (kept as an extra attribute).
OUTCOME_COLUMNS = ("participant_id", "value", "sample_type", "assay", "extraction", "kit", "lod", "below_lod",
                   "fasting", "collected_at")
SCALES = ("mean_daily", "per_1000kcal", "index")
INDEX_SUFFIX = "_index"
GROUPINGS = ("quintiles", "tertiles", "consumer", "continuous")
STATISTICS = ("mean", "proportion", "ratio", "quantile")
ANALYSES_DIR_ENV = "GUTAXIS_ANALYSES_DIR"


def analyses_dir() -> Path:
    """Where analysis files live: data/analyses/, or $GUTAXIS_ANALYSES_DIR."""
    return Path(os.environ.get(ANALYSES_DIR_ENV) or DATA_DIR / "analyses")


def known_components() -> set[str]:
    return set(component_ids()) | set(CONTRACT_FOOD_GROUPS)


def known_index_variables() -> set[str]:
    """What `scale: index` may name: an index id (its total, e.g. hei2015) or index id + _ + component
    (e.g. hei2015_sodium); as an estimates or covariate variable, with _index appended."""
    from gutaxis.indices import INDICES

    return {name for index in INDICES.values()
            for name in (index.index_id, *(f"{index.index_id}_{c}" for c in index.max_scores))}


def known_outcomes() -> set[str]:
    from gutaxis.analysis.outcomes import outcome_registry

    return set(outcome_registry()["outcome_id"].to_list())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttributeTable(_Strict):
    format: Literal["nhanes-demo", "tabular"]
    path: str
    delimiter: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _tabular_needs_id(self):
        if self.format == "tabular" and "participant_id" not in self.columns:
            raise ValueError("a tabular attribute table needs columns: {participant_id: YOUR_ID_COLUMN, ...}")
        if self.format == "nhanes-demo" and self.columns:
            raise ValueError("nhanes-demo takes the official DEMO column names; columns: is for format tabular")
        return self


class OutcomeTable(_Strict):
    format: Literal["nhanes-dpq", "tabular"]
    path: str
    outcome: str | None = None
    unit: str | None = None
    delimiter: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(OUTCOME_COLUMNS))
        if unknown:
            raise ValueError(f"unknown outcome column(s) {unknown}; allowed: {', '.join(OUTCOME_COLUMNS)}")
        return v

    @model_validator(mode="after")
    def _tabular_needs_outcome(self):
        if self.format == "tabular":
            if not self.outcome or not self.unit:
                raise ValueError("a tabular outcome needs outcome: (an id of data/reference/outcomes.csv) and unit:")
            if self.outcome not in known_outcomes():
                raise ValueError(f"unknown outcome {self.outcome!r}; known: {', '.join(sorted(known_outcomes()))} "
                                 "(add it to data/reference/outcomes.csv)")
            missing = [c for c in ("participant_id", "value") if c not in self.columns]
            if missing:
                raise ValueError(f"a tabular outcome needs columns: {{{missing[0]}: YOUR_COLUMN, ...}}")
        elif self.outcome or self.unit or self.columns:
            raise ValueError("nhanes-dpq takes the official DPQ columns and gives phq9_total and phq9_ge10; "
                             "outcome:, unit: and columns: are for format tabular")
        return self


class Design(_Strict):
    weight: str = "auto"
    strata: str = "stratum"
    psu: str = "psu"
    cycles: int = Field(default=1, ge=1)
    lonely_psu: Literal["adjust", "average", "remove"] = "adjust"


class Exposure(_Strict):
    component: str
    scale: Literal["mean_daily", "per_1000kcal", "index"] = "per_1000kcal"
    groups: Literal["quintiles", "tertiles", "consumer", "continuous"] = "quintiles"


class Analysis(_Strict):
    id: str
    kind: Literal["estimates", "association"]
    title: str | None = None
    cohorts: list[str] = Field(default_factory=list)
    domain: str | None = None
    # estimates
    variables: list[str] = Field(default_factory=list)
    statistics: list[Literal["mean", "proportion", "ratio", "quantile"]] = Field(default_factory=lambda: ["mean"])
    quantiles: list[float] = Field(default_factory=lambda: [0.5])
    denominator: str | None = None
    by: list[str] = Field(default_factory=list)
    # association
    exposure: Exposure | None = None
    outcome: str | None = None
    model: Literal["logistic", "linear"] | None = None
    covariates: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        import re

        if not re.match(r"^[a-z0-9_-]+$", v):
            raise ValueError(f"analysis id {v!r} must match [a-z0-9_-]+")
        return v

    @field_validator("domain")
    @classmethod
    def _parsable(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                pl.sql_expr(v)
            except Exception as exc:  # polars raises several types for a bad SQL expression
                raise ValueError(f"domain {v!r} is not a valid SQL condition ({str(exc).splitlines()[0]})") from None
        return v

    @model_validator(mode="after")
    def _complete(self):
        components, outcomes = known_components(), known_outcomes()
        if self.kind == "association":
            for key in ("exposure", "outcome", "model"):
                if getattr(self, key) is None:
                    raise ValueError(f"an association needs {key}:")
            if self.exposure.scale == "index":
                if self.exposure.component not in known_index_variables():
                    raise ValueError(f"exposure: scale index needs an index id or index id _ component "
                                     f"(e.g. hei2015, hei2015_sodium), not {self.exposure.component!r}")
            elif self.exposure.component not in components:
                raise ValueError(f"exposure: unknown component {self.exposure.component!r}; use an id of "
                                 "data/reference/components.csv (or an FPED group of DESIGN.md)")
            if self.outcome not in outcomes:
                raise ValueError(f"unknown outcome {self.outcome!r}; known: {', '.join(sorted(outcomes))}")
        else:
            if not self.variables:
                raise ValueError("an estimates analysis needs variables: [...]")
            if "ratio" in self.statistics and not self.denominator:
                raise ValueError("statistic ratio needs denominator: (a variable)")
            if any(not 0 < q < 1 for q in self.quantiles):
                raise ValueError("quantiles must lie strictly between 0 and 1")
        for name in (*self.variables, *([self.denominator] if self.denominator else []), *self.covariates, *self.by):
            if not _known_variable(name, components, outcomes):
                raise ValueError(f"unknown variable {name!r}: name an outcome ({', '.join(sorted(outcomes))}), a "
                                 "component (optionally with _mean_daily or _per_1000kcal), a participant attribute "
                                 f"({', '.join(ATTRIBUTES)}) or an attribute the participants tables map")
        return self


def _known_variable(name: str, components: set[str], outcomes: set[str]) -> bool:
    """Outcomes, components and the fixed attributes are checked; other names may be mapped attributes
    (checked against the data at run time)."""
    base = name.removesuffix("_mean_daily").removesuffix("_per_1000kcal")
    if name in outcomes or base in components or name in ATTRIBUTES or name in DESIGN_COLUMNS:
        return True
    if name.endswith(INDEX_SUFFIX) and name.removesuffix(INDEX_SUFFIX) in known_index_variables():
        return True
    if name == "oxytocin_method":
        return True
    # a name that looks like a component or outcome but is none is a typo, not an extra attribute
    return not (name.startswith(("fg_", "phq9", "oxytocin"))
                or name.endswith(("_mean_daily", "_per_1000kcal", INDEX_SUFFIX)))


class AnalysisDeclarations(_Strict):
    participants: list[AttributeTable] = Field(default_factory=list)
    outcomes: list[OutcomeTable] = Field(default_factory=list)
    design: Design | None = None
    analyses: list[Analysis] = Field(default_factory=list)


def _one_line(where: Path | str, exc: ValidationError, prefix: str = "") -> GutaxisError:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in (*([prefix] if prefix else []), *err["loc"])) or "(spec)"
    msg = err["msg"].removeprefix("Value error, ")
    return GutaxisError(f"{where}: field '{field}': {msg}")


def check_declarations(data: dict, where: Path | str) -> AnalysisDeclarations:
    """The analysis keys of a cohort spec, validated; one line for the first problem."""
    keys = {k: data[k] for k in ("participants", "outcomes", "design", "analyses") if data.get(k) is not None}
    try:
        declared = AnalysisDeclarations(**keys)
    except ValidationError as exc:
        raise _one_line(where, exc) from None
    ids = [a.id for a in declared.analyses]
    if len(ids) != len(set(ids)):
        raise GutaxisError(f"{where}: field 'analyses': id {sorted(i for i in ids if ids.count(i) > 1)[0]!r} is "
                           "declared twice; give each analysis its own id")
    return declared


def load_analysis_file(path: Path) -> Analysis:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise GutaxisError(f"{path}: not a readable YAML analysis file ({str(exc).splitlines()[0]}); fix the syntax") from None
    if not isinstance(data, dict):
        raise GutaxisError(f"{path}: expected a mapping (id, kind, cohorts, ...); fix the file")
    try:
        analysis = Analysis(**data)
    except ValidationError as exc:
        raise _one_line(path, exc) from None
    if analysis.id != Path(path).stem:
        raise GutaxisError(f"{path}: field 'id': {analysis.id!r} differs from the file name; name the file {analysis.id}.yaml")
    if not analysis.cohorts:
        raise GutaxisError(f"{path}: field 'cohorts': an analysis file names the cohorts it runs on, e.g. cohorts: [nhanes1718]")
    return analysis


def analysis_files() -> list[Path]:
    return sorted(analyses_dir().glob("*.yaml"))


def analyses_for(cohort: str, inline: list[Analysis]) -> list[Analysis]:
    """The cohort's inline analyses and every analysis file that names it (an inline id wins)."""
    chosen = {a.id: a for a in inline}
    for path in analysis_files():
        analysis = load_analysis_file(path)
        if cohort in analysis.cohorts and analysis.id not in chosen:
            chosen[analysis.id] = analysis
    return list(chosen.values())


def resolve_path(base_dir: Path, path: str) -> Path:
    candidate = Path(path).expanduser()
    return Path(os.path.normpath(candidate if candidate.is_absolute() else base_dir / candidate))


def analysis_inputs(spec) -> list:
    """The analysis files naming the cohort and its attribute and outcome tables: a new or changed one reruns
    the cohort (its estimates are published with its exposures)."""
    files = []
    for path in sorted(analyses_dir().glob("*.yaml")):
        try:
            if spec.name in load_analysis_file(path).cohorts:
                files.append(path)
        except GutaxisError:
            files.append(path)  # a broken analysis file is a change too: the run reports it in one line
    for table in (spec.participants or []) + (spec.outcomes or []):
        path = resolve_path(spec.base_dir, str(table.get("path", "")))
        if path.is_file():
            files.append(path)
    return files
