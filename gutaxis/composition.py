"""Composition sources: where a source's files live, whether they are there, and loading them."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gutaxis import GutaxisError, raw_dir
from gutaxis.fetch import stands_for
from gutaxis.formats import Composition, composition_csv, fndds, sr28
from gutaxis.specs import SOURCES_DIR, SourceSpec, load_source_spec

READERS: dict[str, Callable[[Path, str], Composition]] = {
    "sr28-ascii": sr28.read,
    "fndds-nutrient-values-xlsx": fndds.read,
    "gutaxis-composition-csv": composition_csv.read,
}


def source_folder(spec: SourceSpec) -> Path:
    """The spec's `path` (relative to data/sources/) for sources shipped with the project, else data/raw/ID/."""
    if spec.path:
        return SOURCES_DIR / spec.path
    return raw_dir() / spec.id


def is_available(spec: SourceSpec) -> bool:
    """Every required file is in the source folder (a gzip'd copy `NAME.gz`, or a stand-in the spec
    accepts in its place (`alternate_files`), counts)."""
    folder = source_folder(spec)
    if not folder.is_dir():
        return False
    stood_for = {stands_for(spec, p.name) for p in folder.iterdir() if p.is_file()}
    return all((folder / name).is_file() or (folder / f"{name}.gz").is_file() or name in stood_for
               for name in spec.files)


def load(source_id: str) -> Composition:
    spec = load_source_spec(source_id)
    reader = READERS.get(spec.format)
    if reader is None:
        raise GutaxisError(f"{SOURCES_DIR / f'{source_id}.yaml'}: format {spec.format!r} has no composition reader; "
                           f"use one of {sorted(READERS)}")
    if not is_available(spec) and spec.path:
        raise GutaxisError(f"source {source_id}: files {sorted(spec.files)} missing in {source_folder(spec)}; "
                           f"restore them or fix 'path' in {SOURCES_DIR / f'{source_id}.yaml'}")
    if not is_available(spec):
        raise GutaxisError(f"source {source_id} is not fetched; run `gutaxis fetch {source_id}` (or `--from PATH`)")
    return reader(source_folder(spec), spec.id)
