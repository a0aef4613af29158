"""Shared fixtures: the real data beside the checkout, and an isolated warehouse / raw / Dagster home."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gutaxis import PROJECT_ROOT

REALDATA = PROJECT_ROOT.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not beside the checkout")
    return REALDATA


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """A fresh warehouse, raw folder and Dagster storage for one test."""
    return _isolate(tmp_path, monkeypatch.setenv)


def _isolate(root: Path, setenv) -> Path:
    setenv("GUTAXIS_WAREHOUSE", str(root / "warehouse.duckdb"))
    setenv("GUTAXIS_RAW_DIR", str(root / "raw"))
    setenv("GUTAXIS_DAGSTER_DIR", str(root / "dagster"))
    setenv("DAGSTER_HOME", str(PROJECT_ROOT))
    (root / "dagster").mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def isolated_session(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("session")
    saved = {k: os.environ.get(k) for k in ("GUTAXIS_WAREHOUSE", "GUTAXIS_RAW_DIR", "GUTAXIS_DAGSTER_DIR", "DAGSTER_HOME")}
    _isolate(root, lambda k, v: os.environ.__setitem__(k, v))
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def write_spec(folder: Path, name: str, **fields) -> Path:
    import yaml

    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, **fields}, sort_keys=False), encoding="utf-8")
    return path


# Fixtures that give a test its own warehouse: the test runs the pipeline, the CLI or Dagster on it.
PIPELINE_FIXTURES = {"isolated", "isolated_session", "home"}


def pytest_collection_modifyitems(config, items) -> None:
    """`make check` runs `-m "not slow and not realdata"`: the unit tests. A test that runs the
    pipeline (it asks for a warehouse of its own) is slow, and one that reads ../shared/realdata is
    realdata, whether or not its author marked it."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & PIPELINE_FIXTURES and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
        if "realdata" in fixtures and not item.get_closest_marker("realdata"):
            item.add_marker(pytest.mark.realdata)
