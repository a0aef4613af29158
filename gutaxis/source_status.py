"""Which sources are here and which fed a run: `gutaxis sources`, audit.runs.source_versions and the
sources lines of the run summary."""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from gutaxis import composition as composition_sources
from gutaxis.fetch import SHA256SUMS, stands_for
from gutaxis.specs import SourceSpec, load_source_spec, source_specs

FNDDS = "fndds-2017-2018"
SR28 = "sr28"
INGREDIENTS = "fndds-ingredients-2017-2018"
FDD = "fda-fdd-3.1"
RETENTION = "usda-retention-factors-r6"
FLAVONOID_SURVEY = "usda-flavonoid-survey-2017-2018"
FLAVONOID_R33 = "usda-flavonoid-r3.3"

# The components gutaxis.components.derived computes for FNDDS-coded diaries, and every source each group draws
# on when fetched (source id -> what it gives). A source of the list that a run did not use is
# named in the run summary as missing, with its fetch command.
_LINKAGE = {INGREDIENTS: "recipes of FNDDS foods, the preferred linkage",
            FDD: "recipes of the foods the FNDDS ingredients do not resolve, the fallback linkage"}
DERIVED_SOURCES: dict[tuple[str, ...], dict[str, str]] = {
    ("tryptophan", "tyrosine"): {SR28: "amino acids of the ingredients", **_LINKAGE,
                                 RETENTION: "cooking losses of the ingredients"},
    ("flavonoids_total", "flavan3ols", "anthocyanidins"): {
        FLAVONOID_SURVEY: "USDA flavonoid values per FNDDS food, preferred to R3.3", FLAVONOID_R33: "values per SR28 ingredient",
        SR28: "ingredient descriptions matched to R3.3", **_LINKAGE},
    ("inulin_fos", "resistant_starch", "beta_glucan"): {SR28: "ingredients matched to the curated tables", **_LINKAGE},
    ("fermented_foods",): {SR28: "live-culture ingredients", **_LINKAGE},
}


@dataclass
class SourceStatus:
    id: str
    version: str
    fetched: bool
    shipped: bool  # comes with the project (the synthetic demo), not fetched
    verified: bool = False  # every file present is an official file whose sha256 matches the spec's
    notes: list[str] = field(default_factory=list)  # why not verified, file by file

    @property
    def state(self) -> str:
        if self.shipped:
            return "shipped with the project"
        if not self.fetched:
            return "not fetched"
        return "fetched, verified" if self.verified else "fetched, unverified"

    @property
    def stand_in(self) -> bool:
        return any("stand-in" in note for note in self.notes)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def status(spec: SourceSpec) -> SourceStatus:
    """Fetched or not, and verified: each present file hashed again (uncompressed, as the spec's
    sha256 is of the official uncompressed file) and compared with the spec."""
    fetched = composition_sources.is_available(spec)
    result = SourceStatus(spec.id, spec.version, fetched, shipped=spec.path is not None)
    if not fetched or result.shipped:
        return result
    folder = composition_sources.source_folder(spec)
    official = {**spec.optional_files, **spec.files}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name != SHA256SUMS):
        name = path.name[:-3] if path.suffix == ".gz" else path.name
        stood_for = stands_for(spec, name)
        if stood_for is None:
            continue  # not a file of the source (the reader does not read it)
        if stood_for.lower() != name.lower():
            result.notes.append(f"{path.name} is a stand-in for the official {stood_for!r}")
        elif official.get(stood_for) is None:
            result.notes.append(f"{path.name}: the spec records no official sha256")
        elif _sha256(path) != official[stood_for]:
            result.notes.append(f"{path.name}: sha256 differs from the official file's (changed since the fetch?)")
    result.verified = not result.notes
    return result


def all_statuses() -> list[SourceStatus]:
    return [status(spec) for spec in source_specs()]


def format_statuses(statuses: list[SourceStatus]) -> str:
    """The `gutaxis sources` table, then one line per note and per missing source's fetch command."""
    header = ("source", "status", "version")
    rows = [(s.id, s.state, s.version) for s in statuses]
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip()
             for row in [header, tuple("-" * w for w in widths), *rows]]
    for s in statuses:
        lines += [f"{s.id}: {note}" for note in s.notes]
        if not s.fetched and not s.shipped:
            lines.append(f"{s.id}: run `gutaxis fetch {s.id}` (or `--from PATH` for a local copy)")
    return "\n".join(lines)


def sources_used(conn: duckdb.DuckDBPyConnection, composition: str) -> dict[str, str]:
    """Source id -> version of every source a run of a cohort on `composition` draws on: the
    composition source as loaded, and for FNDDS the sources its derived values used (audit.derivations)."""
    used = dict(conn.execute("SELECT source, version FROM audit.source_loads WHERE source = ?", [composition]).fetchall())
    if composition == FNDDS:
        known = {spec.id: spec.version for spec in source_specs()}
        for (source,) in conn.execute("SELECT DISTINCT source FROM audit.derivations WHERE status = 'used'").fetchall():
            if source in known and source not in used:
                used[source] = known[source]
    return dict(sorted(used.items()))


def summary_lines(composition: str, used: dict[str, str]) -> list[str]:
    """Run-summary lines: the sources each derived component came from and the expected ones that
    were missing; then, once per source, the command that fetches a missing one or the full file
    of a stand-in."""
    lines = [f"sources: {', '.join(f'{s} ({v})' for s, v in used.items()) or 'none recorded'}"]
    if composition != FNDDS:
        return lines
    to_fetch: dict[str, str] = {}
    for group, expected in DERIVED_SOURCES.items():
        fed = [s for s in expected if s in used]
        missing = [s for s in expected if s not in used]
        to_fetch.update((s, expected[s]) for s in missing if s not in to_fetch)
        lines.append(f"  {', '.join(group)} <- {', '.join(fed) or 'nothing (no value derived)'}"
                     + (f" (missing: {', '.join(missing)})" if missing else ""))
    for source in (s for s in used if s != composition):
        state = status(load_source_spec(source))
        if state.stand_in:
            lines.append(f"  {source} is a stand-in ({'; '.join(state.notes)}): "
                         f"`gutaxis fetch {source}` gets the full official file")
    lines += [f"  missing {s} ({why}): `gutaxis fetch {s}`" for s, why in to_fetch.items()]
    return lines
