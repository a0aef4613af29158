"""The lake: where shard outputs live as Parquet, a local folder or any fsspec URL (s3://, gs://, ...).

Configured in one place: GUTAXIS_LAKE (default data/lake/ in the checkout, ignored by git) and, for
an object store, GUTAXIS_LAKE_OPTIONS (JSON: fsspec storage options such as
{"endpoint_url": "http://127.0.0.1:9000"}; credentials come from the usual environment of the store's
client, never from here). The central step resolves both and hands them to every shard task, so
workers need no configuration of their own beyond credentials.

Layout (docs/scale.md): LAKE/COHORT/runs/RUN/ holds a run's composition table and run.json;
LAKE/COHORT/runs/RUN/split/shard=I/ the split pass's raw rows of shard I, while the shards run;
LAKE/COHORT/runs/RUN/shard-I-of-N/ one shard's tables, with manifest.json written last (a shard
folder without it is incomplete and never read).
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from gutaxis import PROJECT_ROOT, GutaxisError

MANIFEST = "manifest.json"


def default_url() -> str:
    return str(PROJECT_ROOT / "data" / "lake")


@dataclass(frozen=True)
class Lake:
    """A lake root and its storage options; picklable, so that shard tasks carry it to workers."""

    url: str
    options: dict = field(default_factory=dict)

    @property
    def fs(self):
        import fsspec

        fs, _ = fsspec.core.url_to_fs(self.url, **self.options)
        return fs

    @property
    def is_local(self) -> bool:
        return "://" not in self.url or self.url.startswith("file://")

    def path(self, *parts: str) -> str:
        root = self.url.rstrip("/")
        if self.is_local:
            root = root.removeprefix("file://")
        return "/".join([root, *parts])

    def write_parquet(self, frame: pl.DataFrame, path: str) -> None:
        if self.is_local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(path, compression="zstd", statistics=False)
            return
        with self.fs.open(path, "wb") as handle:
            frame.write_parquet(handle, compression="zstd", statistics=False)

    def read_parquet(self, path: str) -> pl.DataFrame:
        if self.is_local:
            return pl.read_parquet(path)
        with self.fs.open(path, "rb") as handle:
            return pl.read_parquet(io.BytesIO(handle.read()))

    def write_json(self, value: dict, path: str) -> None:
        text = json.dumps(value, sort_keys=True, indent=1)
        if self.is_local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            temporary = f"{path}.tmp"
            Path(temporary).write_text(text)
            os.replace(temporary, path)  # a reader sees the whole manifest or none
            return
        with self.fs.open(path, "w") as handle:  # an object store's PUT is atomic
            handle.write(text)

    def read_json(self, path: str) -> dict | None:
        try:
            with self.fs.open(path, "r") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def listdir(self, path: str) -> list[str]:
        """Names (not paths) of the folders and files in path; none if it does not exist."""
        try:
            return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False, refresh=True))
        except FileNotFoundError:
            return []

    def remove(self, path: str) -> None:
        try:
            self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass

    def put_folder(self, local: Path, path: str) -> None:
        """Upload the files under local to path (same relative names)."""
        fs = self.fs
        for file in sorted(p for p in local.rglob("*") if p.is_file()):
            fs.put_file(str(file), f"{path}/{file.relative_to(local).as_posix()}")

    @contextmanager
    def local_folder(self, path: str) -> Iterator[Path]:
        """The lake folder path as a local folder: itself in a local lake, else a temporary download
        (removed afterwards), for readers that scan local files."""
        if self.is_local:
            yield Path(path)
            return
        fs = self.fs
        with tempfile.TemporaryDirectory(prefix="gutaxis-lake-") as temporary:
            root = path.rstrip("/").split("://", 1)[-1]
            for file in fs.find(f"{path.rstrip('/')}/"):
                relative = file.split("://", 1)[-1].removeprefix(root)
                if not relative.startswith("/"):  # a sibling sharing the name's start (shard=3 and shard=30)
                    continue
                target = Path(temporary) / relative.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(file, str(target))
            yield Path(temporary)

    def cohort_runs(self, cohort: str) -> str:
        return self.path(cohort, "runs")

    def run_prefix(self, cohort: str, run_key: str) -> str:
        return self.path(cohort, "runs", run_key)


def configured(url: str | None = None, options: dict | str | None = None) -> Lake:
    """The lake from arguments (a Dagster resource's config), else GUTAXIS_LAKE / GUTAXIS_LAKE_OPTIONS."""
    url = url or os.environ.get("GUTAXIS_LAKE") or default_url()
    raw = options if options not in (None, "", {}) else os.environ.get("GUTAXIS_LAKE_OPTIONS", "")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise GutaxisError(f"GUTAXIS_LAKE_OPTIONS: not JSON ({exc.msg}); give fsspec storage options as a JSON "
                               'object, e.g. {"endpoint_url": "http://127.0.0.1:9000"}') from None
    if not isinstance(raw, dict):
        raise GutaxisError("GUTAXIS_LAKE_OPTIONS: give a JSON object of fsspec storage options, e.g. "
                           '{"endpoint_url": "http://127.0.0.1:9000"}')
    if "://" not in url:
        url = str(Path(url).expanduser().resolve())
    return Lake(url, dict(raw))
