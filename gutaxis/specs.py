"""Cohort and source spec files: load, validate, and resolve paths (relative to the spec's folder)."""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gutaxis import DATA_DIR, GutaxisError, raw_dir
from gutaxis.components import component_ids



def cohorts_dir() -> Path:
    """Where registered cohort specs live: data/cohorts/, or $GUTAXIS_COHORTS_DIR."""
    return Path(os.environ.get("GUTAXIS_COHORTS_DIR") or DATA_DIR / "cohorts")


SOURCES_DIR = DATA_DIR / "sources"
SLUG = re.compile(r"^[a-z0-9_-]+$")
# A cohort name becomes a file name (data/cohorts/NAME.yaml), part of DuckDB table and temporary
# file names (store."participant_exposure__NAME__RUNKEY", ~65 more characters) and a Dagster
# partition key (stored in VARCHAR(255) columns by Dagster's SQL run storages): 64 keeps every
# one of them far inside its limit (255 bytes per file name on common file systems).
NAME_MAX = 64
# How a spec may write the tab; any other delimiter is one character, not a quote or line end.
DELIMITER_ALIASES = {"\\t": "\t", "tab": "\t", "TAB": "\t"}
DIARY_FORMATS = ("asa24-items", "nhanes-iff", "tabular", "nhanes-tot", "asa24-totals", "tabular-totals")
# Day-totals formats: one row per participant-day (gutaxis.day_totals); their columns map has no food_code or grams.
TOTALS_REQUIRED = ("participant_id", "recall_day")
# Canonical columns a tabular spec may map; participant_id, recall_day, food_code, grams are required.
TABULAR_REQUIRED = ("participant_id", "recall_day", "food_code", "grams")
TABULAR_OPTIONAL = ("recall_status",)
# Dietary survey weights a tabular file may carry (kept in cohort.participants: gutaxis.dietary_weights).
WEIGHT_COLUMNS = ("wt_day1", "wt_two_day")
DEFAULT_LOW_COVERAGE = 0.8


class CohortSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    format: Literal[DIARY_FORMATS]
    path: str
    composition: str = "fndds-2017-2018"
    delimiter: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    reported: dict[str, str] = Field(default_factory=dict)
    # Recall-status codes that mean "usable" for a mapped recall_status column (tabular only).
    valid_recall_status: list[int] = Field(default_factory=lambda: [1])
    low_coverage_threshold: float = Field(default=DEFAULT_LOW_COVERAGE, ge=0, le=1)
    # Participant shards (gutaxis.shards, docs/scale.md): 1 runs the cohort whole, as before; N splits it
    # by a stable hash of participant_id; "auto" picks N from the input's size (shards.shard_count).
    shards: int | Literal["auto"] = 1
    # A registered spec reads only under the project's data folder unless this says otherwise
    # (`cohort add --path` outside data/ writes it; see `outside_data_error`).
    external_path: bool = False
    # Made-up data (the bundled demo): run only while no real cohort is registered (see real_cohorts_registered).
    synthetic: bool = False
    # Analysis keys (DESIGN.md "Participants, outcomes and analysis"), validated by
    # gutaxis.analysis.declarations.check_declarations when the spec is loaded.
    participants: list[dict] | None = None
    outcomes: list[dict] | None = None
    design: dict | None = None
    analyses: list[dict] | None = None
    usual_intake: dict | None = None  # the NCI usual-intake model (gutaxis.analysis.declarations.UsualIntake)
    # Diet indices to score (gutaxis.indices): every registered one by default; a list names the ones
    # wanted, [] none (a cohort that needs no index need not pay for scoring every participant-day).
    indices: list[str] | None = None
    spec_path: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG.match(v):
            raise ValueError(f"cohort name {v!r} must match [a-z0-9_-]+ (lower-case letters, digits, _ and -)")
        if len(v) > NAME_MAX:
            raise ValueError(name_too_long(v))
        return v

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, v: str | None) -> str | None:
        if v is None:
            return v
        problem = delimiter_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("shards")
    @classmethod
    def _shard_count(cls, v: int | str) -> int | str:
        from gutaxis.shards import MAX_SHARDS

        if v != "auto" and not 1 <= v <= MAX_SHARDS:
            raise ValueError(f"shards: {v} is not a shard count; give a whole number from 1 to {MAX_SHARDS}, or auto")
        return v

    @field_validator("indices")
    @classmethod
    def _registered_indices(cls, v: list[str] | None) -> list[str] | None:
        from gutaxis.indices import INDICES

        unknown = [i for i in v or [] if i not in INDICES]
        if unknown:
            raise ValueError(f"indices: {', '.join(map(repr, unknown))} not a registered index; give some of "
                             f"{', '.join(INDICES)}, [] for none, or leave the key out for all")
        return v

    @field_validator("valid_recall_status")
    @classmethod
    def _some_status(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("an empty list would exclude every recall; list the status codes that mark a usable "
                             "recall, e.g. valid_recall_status: [1], or leave the key out (default [1])")
        return v

    @field_validator("reported")
    @classmethod
    def _known_components(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(component_ids()))
        if unknown:
            from rapidfuzz import process

            best = process.extractOne(unknown[0].casefold(), component_ids(), score_cutoff=60)
            guess = f" (did you mean {best[0]}?)" if best else ""
            raise ValueError(f"unknown component id {unknown[0]!r}{guess}; valid ids: {', '.join(component_ids())}")
        return v

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(TABULAR_REQUIRED) - set(TABULAR_OPTIONAL) - set(WEIGHT_COLUMNS))
        if unknown:
            raise ValueError(f"columns: unknown canonical column(s) {unknown}; allowed: {TABULAR_REQUIRED + TABULAR_OPTIONAL + WEIGHT_COLUMNS}")
        return v

    @property
    def base_dir(self) -> Path:
        return self.spec_path.parent if self.spec_path else Path.cwd()

    @property
    def registered(self) -> bool:
        """Whether the spec lives among the registered cohorts (data/cohorts/), however it was named."""
        return self.spec_path is not None and self.spec_path.parent.resolve() == cohorts_dir().resolve()

    def data_pattern(self) -> Path:
        """The spec's path, absolute and normalised (`..` folded, symlinks not followed)."""
        pattern = Path(self.path).expanduser()
        return Path(os.path.normpath(pattern if pattern.is_absolute() else self.base_dir / pattern))

    def data_files(self) -> list[Path]:
        """The data files the spec's path names (a file or a glob), sorted; error if none exist."""
        # Only the spec's own path is a glob: a folder named "Study [2024]" is taken literally.
        path = os.path.expanduser(self.path)
        pattern = path if os.path.isabs(path) else os.path.join(glob.escape(str(self.base_dir)), path)
        matches = sorted(Path(p) for p in glob.glob(os.path.normpath(pattern)))
        files = [p for p in matches if p.is_file()]
        if not files:
            where = self.spec_path or "cohort spec"
            tried = f" (looked for {self.data_pattern()})" if str(self.data_pattern()) != self.path else ""
            raise GutaxisError(f"{where}: path {self.path!r} matches no file{tried}; fix 'path' (relative to the spec's folder) "
                               "or fetch the data")
        return files


def name_too_long(name: str) -> str:
    return (f"cohort name {name[:20]!r}... is {len(name)} characters long; use at most {NAME_MAX} "
            "(it names files, tables and the Dagster partition)")


def delimiter_problem(delimiter: str) -> str | None:
    """Why a spec's delimiter cannot split a text file into columns (None: it can)."""
    resolved = DELIMITER_ALIASES.get(delimiter, delimiter)
    if len(resolved) != 1:
        return (f"delimiter {delimiter!r} must be a single character; write e.g. delimiter: \"\\t\" (tab), "
                "\",\" or \";\"")
    if resolved in "\"\r\n":
        return f"delimiter {delimiter!r} is a quote or line end, which cannot separate columns; use e.g. \",\" or \"\\t\""
    return None


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    format: str
    url: str
    # Official file name -> sha256 of the uncompressed file; null when no verified copy was at hand
    # (the fetch then installs it unverified and records the computed sha256 in SHA256SUMS).
    files: dict[str, str | None]
    # Official files the reader uses when present (fetched and verified if the copy has them).
    optional_files: dict[str, str | None] = Field(default_factory=dict)
    # Official file name -> name patterns (glob, case-insensitive) of documented stand-ins, e.g. a
    # CSV subset of an official xlsx: accepted by `fetch --from`, installed under their own name,
    # never verified (they are not the official bytes). Readers say which layouts they accept.
    alternate_files: dict[str, list[str]] = Field(default_factory=dict)
    version: str
    citation: str
    description: str = ""
    # Folder of the files, relative to the spec, for sources that ship with the project (the
    # generated demo); fetched sources live in data/raw/ID/.
    path: str | None = None


# libyaml's safe loader when PyYAML has it: the same documents, ~10x faster than the pure-Python one, and a
# run reads the source specs a few dozen times
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path) -> dict:
    if not path.is_file():
        tried = f" (looked for {os.path.abspath(path)})" if not path.is_absolute() else ""
        raise GutaxisError(f"{path}: spec file does not exist{tried}; give an existing path or a registered name "
                           "(see `gutaxis cohort list`)")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GutaxisError(f"{path}: not valid YAML ({first}); fix the syntax") from None
    if not isinstance(data, dict):
        raise GutaxisError(f"{path}: expected a mapping of keys (name, format, path, ...); fix the file")
    return data


def _one_line(path: Path, exc: ValidationError) -> GutaxisError:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(spec)"
    msg = err["msg"].removeprefix("Value error, ")
    return GutaxisError(f"{path}: field '{field}': {msg}")


def data_roots() -> list[Path]:
    """Folders a registered spec may read: data/, and the raw and cohorts folders when moved by env.

    Each as written and as resolved (a spec's own folder is resolved: /tmp may be /private/tmp).
    """
    folders = (DATA_DIR, raw_dir(), cohorts_dir())
    return list(dict.fromkeys([*(Path(os.path.abspath(p)) for p in folders), *(Path(p).resolve() for p in folders)]))


def outside_data_error(spec: CohortSpec, where: Path) -> GutaxisError | None:
    """A registered spec whose path leaves the data folders, unless it says external_path: true.

    Registered specs run unattended (schedule, sensor, `gutaxis run`), so one edited to read
    `../../.ssh/id_rsa` or another project's files must not run; a spec given on the command
    line (`run --cohort FILE.yaml`) is the user's own one-off and may read anywhere, and
    `cohort add --path` records an outside path explicitly. The check is lexical: a symlink
    inside data/ (data/raw on a bigger disk) is the user's own choice and is followed.
    """
    if not spec.registered or spec.external_path:
        return None
    pattern = spec.data_pattern()
    if any(pattern.is_relative_to(root) for root in data_roots()):
        return None
    return GutaxisError(f"{where}: path {spec.path!r} points outside the project's data folder ({pattern}); a registered "
                        f"cohort reads only under data/: move the files under {raw_dir()}, register them with "
                        "`gutaxis cohort add NAME --path FILE` (which records external_path: true), or run the spec "
                        "once from outside data/cohorts with `gutaxis run --cohort SPEC.yaml`")


def load_cohort_spec(path: Path) -> CohortSpec:
    path = Path(path)
    data = _load_yaml(path)
    try:
        spec = CohortSpec(**data, spec_path=path.resolve())
    except ValidationError as exc:
        raise _one_line(path, exc) from None
    if spec.format == "tabular":
        missing = [c for c in TABULAR_REQUIRED if c not in spec.columns]
        if missing:
            raise GutaxisError(f"{path}: tabular spec lacks columns mapping for {missing}; add e.g. columns: {{{missing[0]}: YOUR_COLUMN}}")
    if spec.format == "tabular-totals":
        missing = [c for c in TOTALS_REQUIRED if c not in spec.columns]
        if missing:
            raise GutaxisError(f"{path}: tabular-totals spec lacks columns mapping for {missing}; add e.g. columns: {{{missing[0]}: YOUR_COLUMN}}")
        itemwise = [c for c in spec.columns if c not in (*TOTALS_REQUIRED, *TABULAR_OPTIONAL, *WEIGHT_COLUMNS)]
        if itemwise:
            raise GutaxisError(f"{path}: field 'columns': {itemwise} belong to item diaries; a tabular-totals file has one "
                               "row per participant-day: map participant_id, recall_day (and recall_status), and the totals under reported")
        if not spec.reported:
            raise GutaxisError(f"{path}: field 'reported': empty; map each component id to the file's column of daily totals, "
                               "e.g. reported: {energy_kcal: KCAL}")
    # data/cohorts/NAME.yaml is found by NAME (the partition key): the two must agree.
    stem = path.name.split(".")[0]
    if spec.registered and spec.name != stem:
        raise GutaxisError(f"{path}: field 'name': {spec.name!r} differs from the file name {stem!r}; "
                           f"a registered spec is found by its name: rename the file to {spec.name}.yaml or set name: {stem}")
    compositions = composition_source_ids()
    if spec.composition not in compositions:
        problem = "unknown source" if not is_source_id(spec.composition) else "source without food composition"
        raise GutaxisError(f"{path}: field 'composition': {problem} {spec.composition!r}; use one of: {', '.join(compositions)}")
    error = outside_data_error(spec, path)
    if error:
        raise error
    from gutaxis.analysis.declarations import check_declarations  # here: it imports the readers, which import this

    check_declarations(data, path)
    return spec


def resolve_cohort(name_or_path: str) -> CohortSpec:
    """A registered cohort name (data/cohorts/NAME.yaml) or a spec file path."""
    candidate = Path(name_or_path)
    if SLUG.match(name_or_path) and len(name_or_path) > NAME_MAX:
        raise GutaxisError(f"cohort {name_or_path[:20]!r}... is not a registered name: {name_too_long(name_or_path)}")
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return load_cohort_spec(candidate)
    if not SLUG.match(name_or_path):
        raise GutaxisError(f"cohort {name_or_path!r} is not a cohort name (lower-case letters, digits, _ and -) nor a "
                           "spec file; give a registered name (see `gutaxis cohort list`) or a path to a .yaml spec")
    registered = cohorts_dir() / f"{name_or_path}.yaml"
    if not registered.is_file():
        raise GutaxisError(f"cohort {name_or_path!r} is neither a registered name nor a spec file; see `gutaxis cohort list` or give a path to a .yaml spec")
    return load_cohort_spec(registered)


def registered_cohorts() -> list[CohortSpec]:
    return without_synthetic_beside_real([load_cohort_spec(p) for p in sorted(cohorts_dir().glob("*.yaml"))])


def without_synthetic_beside_real(specs: list[CohortSpec]) -> list[CohortSpec]:
    """The synthetic demo runs only while it is alone: once a real cohort is registered it leaves
    the runs (and `gutaxis run` / `cohort add` take its rows out of the warehouse), so that made-up
    participants never sit among an analyst's real ones."""
    if any(not spec.synthetic for spec in specs):
        return [spec for spec in specs if not spec.synthetic]
    return specs


def known_source_ids() -> list[str]:
    return sorted(p.stem for p in SOURCES_DIR.glob("*.yaml"))


def composition_source_ids() -> list[str]:
    """Sources a cohort can link its food codes to: those in a format with a composition reader."""
    from gutaxis.composition import READERS  # here: gutaxis.composition imports this module

    return [spec.id for spec in source_specs() if spec.format in READERS]


def is_source_id(source_id: str) -> bool:
    return bool(SLUG.match(source_id.replace(".", ""))) and (SOURCES_DIR / f"{source_id}.yaml").is_file()


def load_source_spec(source_id: str) -> SourceSpec:
    path = SOURCES_DIR / f"{source_id}.yaml"
    if not is_source_id(source_id):
        raise GutaxisError(f"unknown source {source_id!r}; known sources: {', '.join(known_source_ids())}")
    try:
        return SourceSpec(**_load_yaml(path))
    except ValidationError as exc:
        raise _one_line(path, exc) from None


def source_specs() -> list[SourceSpec]:
    return [load_source_spec(p.stem) for p in sorted(SOURCES_DIR.glob("*.yaml"))]


def stored_data_path(typed: str) -> tuple[str, bool]:
    """How `cohort add --path` records a path: (path for the spec, whether it lies outside the data folders).

    Under the project's data folder: relative to the spec's folder (data/cohorts), so that the
    checkout can move. Elsewhere: absolute, as typed (symlinks kept, `..` folded), never rewritten
    through the link targets into a `../../..` chain that only holds on one machine's layout.
    """
    absolute = Path(os.path.abspath(os.path.expanduser(typed)))
    if not any(path.is_relative_to(root) for root in data_roots() for path in (absolute, absolute.resolve())):
        return str(absolute), True
    spec_folder = cohorts_dir()
    data_folder = spec_folder.parent  # data/, which holds data/cohorts
    if absolute.is_relative_to(os.path.abspath(data_folder)):
        return os.path.relpath(absolute, os.path.abspath(spec_folder)), False
    # Through a symlink to the checkout: the nearest folder up the path that lies in the data folder
    # once its links are followed; links below it (data/raw on another disk) are kept.
    for ancestor in absolute.parents:
        real = ancestor.resolve()
        if real.is_relative_to(data_folder.resolve()):
            return os.path.relpath(real / absolute.relative_to(ancestor), spec_folder.resolve()), False
    return str(absolute), False  # a data folder elsewhere ($GUTAXIS_RAW_DIR): absolute, no ../ chain to it


MAP_COLUMNS = TABULAR_REQUIRED + TABULAR_OPTIONAL + WEIGHT_COLUMNS


def map_options(mappings: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """`--map KEY=COLUMN` options -> (columns, reported), each key checked with a suggestion."""
    from rapidfuzz import process

    components = component_ids()
    columns, reported = {}, {}
    for item in mappings:
        key, sep, column = item.partition("=")
        key = key.strip()
        if not sep or not key or not column:
            raise GutaxisError(f"--map {item!r}: expected KEY=COLUMN, e.g. --map grams=FoodAmt")
        if key in MAP_COLUMNS:
            columns[key] = column
        elif key in components:
            reported[key] = column
        else:
            keys = [*MAP_COLUMNS, *components]
            best = process.extractOne(key.casefold(), keys, score_cutoff=60)
            guess = f"; did you mean {best[0]}?" if best else ";"
            raise GutaxisError(f"--map {key}: unknown component id{guess} valid keys are the diary columns "
                               f"{', '.join(MAP_COLUMNS)} and the component ids {', '.join(components)}")
    return columns, reported


def add_cohort(name: str, fmt: str, data_path: str | Path, composition: str, mappings: list[str], force: bool = False,
               options: dict[str, object] | None = None) -> Path:
    """Register a cohort: write data/cohorts/NAME.yaml (see stored_data_path) and validate it.

    options: further spec fields (delimiter, valid_recall_status), validated as in a spec file."""
    target = cohorts_dir() / f"{name}.yaml"
    if not SLUG.match(name):
        raise GutaxisError(f"cohort name {name!r} must match [a-z0-9_-]+; choose a slug like study-a")
    if len(name) > NAME_MAX:
        raise GutaxisError(name_too_long(name))
    if target.exists() and not force:
        raise GutaxisError(f"{target}: cohort {name!r} is already registered; pass --force to replace it")
    columns, reported = map_options(mappings)
    stored, external = stored_data_path(str(data_path))
    data = {"name": name, "format": fmt, "path": stored, "composition": composition}
    if external:
        data["external_path"] = True  # registered explicitly by the user: see outside_data_error
    if columns:
        data["columns"] = columns
    if reported:
        data["reported"] = reported
    data.update(options or {})
    cohorts_dir().mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    try:
        spec = load_cohort_spec(tmp)
        spec.data_files()
        load_source_spec(composition)
        os.replace(tmp, target)
    except GutaxisError as exc:
        # the half-written spec is ours, not the user's: name the command they typed instead
        message = str(exc)
        for shown in {str(tmp.resolve()), str(tmp)}:
            message = message.replace(f"{shown}: ", "").replace(shown, str(target))
        raise GutaxisError(f"cohort add {name}: {message}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target
