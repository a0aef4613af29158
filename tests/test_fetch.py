"""`gutaxis fetch`: official files into raw_dir/ID/, verified by sha256 of the uncompressed files."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
import zipfile
from functools import partial
from pathlib import Path

import polars as pl
import pytest

from gutaxis import PROJECT_ROOT, GutaxisError
from gutaxis import composition, fetch as fetch_module
from gutaxis.fetch import fetch
from gutaxis.formats import fndds
from gutaxis.specs import SourceSpec, load_source_spec

REALDATA = PROJECT_ROOT.parent / "shared" / "realdata"
SR28_DIR = REALDATA / "usda" / "sr28"
FNDDS_XLSX = REALDATA / "usda" / "fndds-2017-2018" / fndds.OFFICIAL_XLSX

needs_sr28 = pytest.mark.skipif(not (SR28_DIR / "NUT_DATA.txt.gz").is_file(),
                                reason=f"real SR28 files not found in {SR28_DIR}")
SR28_FETCHED = ["FOOD_DES.txt", "NUTR_DEF.txt", "NUT_DATA.txt", "FD_GROUP.txt"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def use_spec(monkeypatch, spec: SourceSpec) -> None:
    monkeypatch.setattr(fetch_module, "load_source_spec", lambda source_id: spec)


@pytest.fixture(scope="module")
def sr28_zip(tmp_path_factory) -> Path:
    """An SR28-style zip built from the real files: a subfolder, other name case, and files not read."""
    if not (SR28_DIR / "NUT_DATA.txt.gz").is_file():
        pytest.skip(f"real SR28 files not found in {SR28_DIR}")
    path = tmp_path_factory.mktemp("zip") / "sr28asc.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("sr28asc/nut_data.TXT", gzip.decompress((SR28_DIR / "NUT_DATA.txt.gz").read_bytes()))
        for name in ("FOOD_DES.txt", "NUTR_DEF.txt", "FD_GROUP.txt", "WEIGHT.txt"):
            archive.write(SR28_DIR / name, f"sr28asc/{name}")
        archive.writestr("sr28_doc.pdf", b"%PDF-1.4 not read")
    return path


@pytest.fixture
def http_root(tmp_path):
    """A folder served over HTTP on 127.0.0.1; yields (folder, base_url)."""
    root = tmp_path / "www"
    root.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.realdata
@needs_sr28
def test_fetch_from_folder_decompresses_gz_verifies_and_loads(monkeypatch, tmp_path):
    raw_dir = tmp_path / "raw"
    paths = fetch("sr28", from_path=SR28_DIR, raw_dir=raw_dir)
    assert [p.name for p in paths] == SR28_FETCHED
    assert files_under(raw_dir) == sorted(f"sr28/{name}" for name in SR28_FETCHED)  # no temp files, no WEIGHT.txt
    spec = load_source_spec("sr28")
    assert sha256((raw_dir / "sr28" / "NUT_DATA.txt").read_bytes()) == spec.files["NUT_DATA.txt"]
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(raw_dir))
    assert composition.is_available(spec)
    salmon = composition.load("sr28").food_components.filter(pl.col("food_code") == "15076")
    assert dict(zip(salmon["component_id"], salmon["amount_per_100g"]))["tryptophan"] == pytest.approx(222.0)


@pytest.mark.realdata
def test_fetch_from_zip_extracts_only_listed_files_matching_name_case_insensitively(sr28_zip, tmp_path):
    paths = fetch("sr28", from_path=sr28_zip, raw_dir=tmp_path)
    assert [p.name for p in paths] == SR28_FETCHED
    assert files_under(tmp_path) == sorted(f"sr28/{name}" for name in SR28_FETCHED)


@pytest.mark.realdata
def test_fetch_downloads_the_zip_from_the_spec_url(sr28_zip, http_root, monkeypatch, tmp_path):
    root, base_url = http_root
    (root / "dnload").mkdir()
    (root / "dnload" / "sr28asc.zip").symlink_to(sr28_zip)
    use_spec(monkeypatch, load_source_spec("sr28").model_copy(update={"url": f"{base_url}/dnload/sr28asc.zip"}))
    raw_dir = tmp_path / "raw"
    paths = fetch("sr28", raw_dir=raw_dir)
    assert [p.name for p in paths] == SR28_FETCHED
    assert files_under(raw_dir) == sorted(f"sr28/{name}" for name in SR28_FETCHED)  # the download is gone


@pytest.mark.realdata
@pytest.mark.skipif(not FNDDS_XLSX.is_file(), reason=f"real FNDDS xlsx not found at {FNDDS_XLSX}")
def test_fetch_single_file_source_from_the_file_itself(tmp_path):
    # The xlsx is itself a zip: it must be taken as the file, not searched for members.
    paths = fetch("fndds-2017-2018", from_path=FNDDS_XLSX, raw_dir=tmp_path)
    assert paths == [tmp_path / "fndds-2017-2018" / fndds.OFFICIAL_XLSX]
    assert paths[0].read_bytes() == FNDDS_XLSX.read_bytes()


OFFICIAL = {"A.txt": b"official a\r\n", "B.txt": b"official b\r\n"}
TINY_SPEC = SourceSpec(id="tiny", format="sr28-ascii", url="http://127.0.0.1:9/none.zip", version="1",
                       citation="test", files={name: sha256(data) for name, data in OFFICIAL.items()},
                       optional_files={"C.txt": sha256(b"official c\r\n")})


def test_sha256_mismatch_is_one_line_and_leaves_no_file(monkeypatch, tmp_path):
    use_spec(monkeypatch, TINY_SPEC)
    source = tmp_path / "copy"
    source.mkdir()
    (source / "A.txt").write_bytes(OFFICIAL["A.txt"])
    (source / "B.txt").write_bytes(b"edited b\r\n")
    raw_dir = tmp_path / "raw"
    with pytest.raises(GutaxisError) as err:
        fetch("tiny", from_path=source, raw_dir=raw_dir)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("B.txt: sha256 mismatch")
    assert f"expected {TINY_SPEC.files['B.txt']}, got {sha256(b'edited b' + bytes([13, 10]))}" in message
    assert "gutaxis fetch tiny" in message
    assert files_under(raw_dir) == []  # A.txt, though good, was not installed either


def test_failed_fetch_keeps_the_files_already_there(monkeypatch, tmp_path):
    use_spec(monkeypatch, TINY_SPEC)
    raw_dir = tmp_path / "raw"
    (raw_dir / "tiny").mkdir(parents=True)
    (raw_dir / "tiny" / "A.txt").write_bytes(b"previous a")
    source = tmp_path / "copy"
    source.mkdir()
    (source / "A.txt").write_bytes(OFFICIAL["A.txt"])
    (source / "B.txt").write_bytes(b"edited b")
    with pytest.raises(GutaxisError, match="sha256 mismatch"):
        fetch("tiny", from_path=source, raw_dir=raw_dir)
    assert files_under(raw_dir) == ["tiny/A.txt"]
    assert (raw_dir / "tiny" / "A.txt").read_bytes() == b"previous a"


def test_folder_with_gz_and_other_case_and_optional_file_absent(monkeypatch, tmp_path):
    use_spec(monkeypatch, TINY_SPEC)
    source = tmp_path / "copy"
    source.mkdir()
    (source / "a.TXT").write_bytes(OFFICIAL["A.txt"])
    (source / "B.txt.gz").write_bytes(gzip.compress(OFFICIAL["B.txt"]))
    paths = fetch("tiny", from_path=source, raw_dir=tmp_path / "raw")
    assert [p.name for p in paths] == ["A.txt", "B.txt"]
    assert (tmp_path / "raw" / "tiny" / "B.txt").read_bytes() == OFFICIAL["B.txt"]


def test_folder_missing_a_required_file_names_it(monkeypatch, tmp_path):
    use_spec(monkeypatch, TINY_SPEC)
    (tmp_path / "A.txt").write_bytes(OFFICIAL["A.txt"])
    with pytest.raises(GutaxisError, match=r"B\.txt not found \(nor as \.gz\)"):
        fetch("tiny", from_path=tmp_path, raw_dir=tmp_path / "raw")


def test_multi_file_source_rejects_a_single_file(monkeypatch, tmp_path):
    use_spec(monkeypatch, TINY_SPEC)
    (tmp_path / "A.txt").write_bytes(OFFICIAL["A.txt"])
    with pytest.raises(GutaxisError, match=r"tiny has 2 files \(A\.txt, B\.txt\); give a folder holding them or the official zip"):
        fetch("tiny", from_path=tmp_path / "A.txt", raw_dir=tmp_path / "raw")


def test_zip_lacking_a_required_file_names_it(monkeypatch, tmp_path):
    use_spec(monkeypatch, TINY_SPEC)
    with zipfile.ZipFile(tmp_path / "tiny.zip", "w") as archive:
        archive.writestr("A.txt", OFFICIAL["A.txt"])
    with pytest.raises(GutaxisError, match=r"the zip lacks B\.txt"):
        fetch("tiny", from_path=tmp_path / "tiny.zip", raw_dir=tmp_path / "raw")
    assert files_under(tmp_path / "raw") == []


def test_download_failure_is_one_line_and_leaves_no_temp_file(monkeypatch, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    use_spec(monkeypatch, TINY_SPEC.model_copy(update={"url": f"http://127.0.0.1:{port}/tiny.zip"}))
    with pytest.raises(GutaxisError) as err:
        fetch("tiny", raw_dir=tmp_path / "raw")
    assert "download failed" in str(err.value) and "--from PATH" in str(err.value)
    assert "\n" not in str(err.value)
    assert files_under(tmp_path / "raw") == []


def test_download_of_a_missing_url_is_an_error(http_root, monkeypatch, tmp_path):
    _, base_url = http_root
    use_spec(monkeypatch, TINY_SPEC.model_copy(update={"url": f"{base_url}/gone.zip"}))
    with pytest.raises(GutaxisError, match=r"download failed \(HTTP 404 "):
        fetch("tiny", raw_dir=tmp_path / "raw")
    assert files_under(tmp_path / "raw") == []


FNDDS_CSV = REALDATA / "usda" / "fndds-2017-2018" / "FNDDS_2017_2018_nutrient_values.csv"


@pytest.mark.realdata
@pytest.mark.skipif(not FNDDS_CSV.is_file() or not FNDDS_XLSX.is_file(), reason="real FNDDS 2017-2018 files not found")
def test_fndds_nutrient_values_csv_stands_in_for_the_xlsx_and_loads_the_same_values(monkeypatch, tmp_path):
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(tmp_path / "csv"))
    fetch("fndds-2017-2018", from_path=FNDDS_CSV, raw_dir=tmp_path / "csv")
    assert composition.is_available(load_source_spec("fndds-2017-2018"))
    from_csv = composition.load("fndds-2017-2018").food_components.sort("food_code", "component_id")
    monkeypatch.setenv("GUTAXIS_RAW_DIR", str(tmp_path / "xlsx"))
    fetch("fndds-2017-2018", from_path=FNDDS_XLSX, raw_dir=tmp_path / "xlsx")
    from_xlsx = composition.load("fndds-2017-2018").food_components.sort("food_code", "component_id")
    assert from_csv.height == from_xlsx.height > 40_000
    assert from_csv.equals(from_xlsx)
