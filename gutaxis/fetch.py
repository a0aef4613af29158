"""`gutaxis fetch`: put a source's official files into data/raw/ID/, verified by sha256."""
from __future__ import annotations

import fnmatch
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO

from gutaxis import GutaxisError, __version__
from gutaxis import raw_dir as default_raw_dir
from gutaxis.specs import SourceSpec, load_source_spec

CHUNK = 1 << 20
DOWNLOAD_TIMEOUT_S = 120
SHA256SUMS = "SHA256SUMS"  # in raw/ID/: computed sha256 of the files installed unverified

Opener = Callable[[], AbstractContextManager[BinaryIO]]


def fetch(source_id: str, from_path: Path | None = None, raw_dir: Path | None = None,
          log: Callable[[str], None] = print) -> list[Path]:
    """Copy (or download) the source's files into raw_dir/ID/ and return their paths.

    Every file is verified against the spec's sha256 of the official uncompressed file before
    any of them replaces what is there, so a failed fetch leaves the folder as it was. A file
    whose sha256 the spec leaves null, or a documented stand-in (`alternate_files`), cannot be
    verified: it is installed, `log` says "unverified" with its computed sha256, and the sha256
    is recorded in raw_dir/ID/SHA256SUMS.
    """
    spec = load_source_spec(source_id)
    raw_dir = Path(raw_dir) if raw_dir else default_raw_dir()
    raw_dir.mkdir(parents=True, exist_ok=True)
    if from_path is not None:
        return _install(spec, Path(from_path), raw_dir, log=log)
    download = _download(spec, raw_dir)
    try:
        return _install(spec, download, raw_dir, origin=spec.url, log=log)
    finally:
        download.unlink(missing_ok=True)


def stands_for(spec: SourceSpec, name: str) -> str | None:
    """The official file name that a file called `name` is, or stands in for; None if neither."""
    for official in [*spec.files, *spec.optional_files]:
        patterns = spec.alternate_files.get(official, [])
        if name.lower() == official.lower() or any(fnmatch.fnmatch(name.lower(), p.lower()) for p in patterns):
            return official
    return None


def _install(spec: SourceSpec, source: Path, raw_dir: Path, origin: str | None = None,
             log: Callable[[str], None] = print) -> list[Path]:
    origin = origin or str(source)
    openers = _openers(spec, source, origin)
    expected = {**spec.optional_files, **spec.files}
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.id}-", dir=raw_dir))
    try:
        unverified: dict[str, str] = {}
        for name, opener in openers.items():
            got = _copy_hashing(opener, staging / name, origin)
            if expected.get(name) is None:
                unverified[name] = got
            elif got != expected[name]:
                raise GutaxisError(f"{name}: sha256 mismatch (expected {expected[name]}, got {got}) in {origin}; "
                                   f"it is not the official {spec.id} {spec.version} file, use an unmodified copy "
                                   f"(`gutaxis fetch {spec.id}` without --from downloads it)")
        destination = raw_dir / spec.id
        destination.mkdir(exist_ok=True)
        installed = []
        for name in openers:
            _remove_stand_ins(spec, destination, name)
            os.replace(staging / name, destination / name)
            installed.append(destination / name)
        _record_sha256(destination, {name: unverified.get(name) for name in openers})
        for name, digest in unverified.items():
            official = stands_for(spec, name)
            role = "" if official == name else f", a stand-in for the official {official!r}"
            log(f"{name}: unverified{role} (no official sha256 in the {spec.id} spec); "
                f"sha256 {digest} recorded in {destination / SHA256SUMS}")
        return installed
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_stand_ins(spec: SourceSpec, destination: Path, name: str) -> None:
    """A file replaces whatever stood for the same official file (the official one or a stand-in)."""
    official = stands_for(spec, name)
    for present in destination.iterdir():
        if present.is_file() and present.name != name and stands_for(spec, present.name) == official:
            present.unlink()


def _record_sha256(destination: Path, installed: dict[str, str | None]) -> None:
    """Keep SHA256SUMS listing exactly the unverified files present (sha256sum format)."""
    sums_path = destination / SHA256SUMS
    sums: dict[str, str] = {}
    if sums_path.is_file():
        for line in sums_path.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            if name and (destination / name).is_file():
                sums[name] = digest
    for name, digest in installed.items():
        sums.pop(name, None)
        if digest is not None:
            sums[name] = digest
    if sums:
        sums_path.write_text("".join(f"{d}  {n}\n" for n, d in sorted(sums.items())), encoding="utf-8")
    else:
        sums_path.unlink(missing_ok=True)


def _openers(spec: SourceSpec, source: Path, origin: str) -> dict[str, Opener]:
    """Official file name -> how to open its uncompressed bytes, for the files the source holds."""
    if source.is_dir():
        return _from_folder(spec, source)
    if not source.is_file():
        raise GutaxisError(f"{source}: no such file or folder; give the official file, a folder of its files, or its zip")
    wanted = {name.lower(): name for name in [*spec.files, *spec.optional_files]}
    # An xlsx is a zip too: only an archive that holds official names is treated as the source's zip.
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            members = [m for m in archive.namelist() if Path(m).name.lower() in wanted]
        if members:
            return _from_zip(spec, source, members, wanted, origin)
    official = stands_for(spec, source.name)
    if official is not None and official.lower() != source.name.lower():
        return {source.name: lambda: open(source, "rb")}  # a documented stand-in keeps its own name
    if len(spec.files) != 1:
        raise GutaxisError(f"{origin}: {spec.id} has {len(spec.files)} files ({', '.join(spec.files)}); "
                           "give a folder holding them or the official zip")
    (name,) = spec.files
    if source.suffix.lower() == ".gz":
        return {name: lambda: gzip.open(source, "rb")}
    return {name: lambda: open(source, "rb")}


def _from_folder(spec: SourceSpec, folder: Path) -> dict[str, Opener]:
    present = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    openers: dict[str, Opener] = {}
    missing = []
    for name in [*spec.files, *spec.optional_files]:
        plain, packed = present.get(name.lower()), present.get(f"{name.lower()}.gz")
        if plain is not None:
            openers[name] = lambda p=plain: open(p, "rb")
        elif packed is not None:
            openers[name] = lambda p=packed: gzip.open(p, "rb")
        elif stand_in := next((p for key, p in sorted(present.items()) if key != name.lower()
                               and stands_for(spec, p.name) == name), None):
            openers[stand_in.name] = lambda p=stand_in: open(p, "rb")
        elif name in spec.files:
            missing.append(name)
    if missing:
        raise GutaxisError(f"{folder}: {', '.join(missing)} not found (nor as .gz); put the official {spec.id} files "
                           "there, or give the official zip")
    return openers


def _from_zip(spec: SourceSpec, source: Path, members: list[str], wanted: dict[str, str],
              origin: str) -> dict[str, Opener]:
    by_name: dict[str, str] = {}
    for member in members:
        name = wanted[Path(member).name.lower()]
        if name in by_name:
            raise GutaxisError(f"{origin}: the zip holds {name} twice ({by_name[name]}, {member}); "
                               "give the official zip or a folder of the files")
        by_name[name] = member
    missing = [name for name in spec.files if name not in by_name]
    if missing:
        raise GutaxisError(f"{origin}: the zip lacks {', '.join(missing)}; give the official {spec.id} zip")

    def opener(member: str) -> Opener:
        @contextmanager
        def open_member() -> Iterator[BinaryIO]:
            with zipfile.ZipFile(source) as archive, archive.open(member) as handle:
                yield handle
        return open_member

    return {name: opener(by_name[name]) for name in [*spec.files, *spec.optional_files] if name in by_name}


def _copy_hashing(opener: Opener, target: Path, origin: str) -> str:
    digest = hashlib.sha256()
    try:
        with opener() as source, open(target, "wb") as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise GutaxisError(f"{origin}: cannot read {target.name} ({exc}); the copy is damaged, get it again") from None
    return digest.hexdigest()


def _download(spec: SourceSpec, raw_dir: Path) -> Path:
    """spec.url saved to a temporary file inside raw_dir (removed by the caller)."""
    request = urllib.request.Request(spec.url, headers={"User-Agent": f"gutaxis/{__version__}"})
    handle, name = tempfile.mkstemp(prefix=f".{spec.id}-download-", dir=raw_dir)
    target = Path(name)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            if response.headers.get_content_type() == "text/html":
                # Some publishers offer the file only through a web page (the spec's url is then that page).
                target.unlink(missing_ok=True)
                raise GutaxisError(f"{spec.url}: a web page, not the data file; download {', '.join(spec.files)} "
                                   f"from it and run `gutaxis fetch {spec.id} --from PATH`")
            shutil.copyfileobj(response, out, CHUNK)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        target.unlink(missing_ok=True)
        reason = f"HTTP {exc.code} {exc.reason}" if isinstance(exc, urllib.error.HTTPError) else getattr(exc, "reason", exc)
        raise GutaxisError(f"{spec.url}: download failed ({reason}); check the network, or download it yourself "
                           f"and run `gutaxis fetch {spec.id} --from PATH`") from None
    return target
