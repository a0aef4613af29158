"""The bad-input corpus: small diary files with one defect each, rendered for every reader that can carry it.

A case is the file bytes, the cohort spec fields and the exact outcome: either the items kept
and the rows quarantined (source row, column, reason), or a refusal whose one-line message
names the file, the row or column, and the fix. `cases()` renders each logical case for the
flavours of input that can hold its defect:

  csv, tsv, parquet       format: tabular (columns pid, day, code, g; reported kcal)
  nhanes-txt, nhanes-xpt  format: nhanes-iff, a day-1 file (DR1IFF_T); the XPT is written by
                          pyreadstat as SAS transport v5, numeric like NHANES's own
  asa24                   format: asa24-items (Items.csv, CodeNum as the item key)

Food codes are the synthetic demo composition's 99000001..99000020, so the CLI runs offline
with `composition: demo`; 99999999 is a code no composition knows (unlinked, not bad input).
"""
from __future__ import annotations

import csv
import io
import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import pandas as pd
import polars as pl
import pyreadstat
import yaml

TEXT = ("csv", "tsv", "nhanes-txt", "asa24")
ALL = ("csv", "tsv", "parquet", "nhanes-txt", "nhanes-xpt", "asa24")
TABULAR = ("csv", "tsv", "parquet")
DAY_CARRIERS = ("csv", "tsv", "parquet", "asa24")  # NHANES takes the day from the file (DR1IFF: day 1)
NUMERIC = ("parquet", "nhanes-xpt")                  # numbers stored as numbers (quarantined values print as floats)
SPEC_NAME = "corpus"
XPT_ZERO = 5.397605346934028e-79  # an IBM-float zero as some XPT readers return it

ROW = "(row)"
GRAMS_NOT_POSITIVE = "grams must be > 0"
GRAMS_ABSURD = "grams above 10000 g (absurd for one item)"
GRAMS_NOT_NUMBER = "grams is not a number"
GRAMS_NOT_FINITE = "grams is not a finite number (NaN or infinite)"
GRAMS_MISSING = "grams is missing"
COMMA = "has a thousands separator or a decimal comma; write numbers with a dot decimal and no thousands separator"
NOT_UTF8 = "has bytes that are not UTF-8 (Latin-1 or Windows-1252?); save the file as UTF-8"
DUPLICATE = ("duplicate item: an earlier row has the same participant, recall day and item number "
             "(the first is kept); remove the repeated row")
REPEATED_HEADER = "row repeats the header line (files joined with their headers?); remove it"


@dataclass(frozen=True)
class Row:
    """One diary row as a file prints it (None: the field is empty)."""
    pid: str | None = "101"
    day: str | None = "1"
    code: str | None = "99000001"
    grams: str | None = "100"
    kcal: str | None = "50"
    line: str | None = None  # the item number (DR1ILINE, CodeNum); default: position in the recall
    note: str = "plain yogurt"  # a description column no rule reads


@dataclass(frozen=True)
class Kept:
    """A correct result: `items` kept, these rows quarantined as (source_row, column, reason)."""
    items: int
    quarantined: tuple[tuple[int, str, str], ...] = ()
    values: tuple[str | None, ...] | None = None  # the quarantined rows' raw values, when the case pins them
    check: Callable[[object], None] | None = None  # a further assertion on the CanonicalDiary


@dataclass(frozen=True)
class Refused:
    """A refusal: one line containing every part (the file, the row or column, the fix)."""
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    name: str
    flavour: str
    files: dict[str, bytes]
    spec: dict
    expect: Kept | Refused
    registered: bool = False  # the spec goes into a cohorts folder (GUTAXIS_COHORTS_DIR) instead of beside the data

    @property
    def id(self) -> str:
        return f"{self.name}[{self.flavour}]"

    def write(self, folder: Path) -> Path:
        """The files under folder/files, the spec beside them (registered: in folder/cohorts); returns the spec path."""
        data_dir = folder / "files"
        data_dir.mkdir(parents=True, exist_ok=True)
        for name, content in self.files.items():
            (data_dir / name).write_bytes(content)
        spec_dir = folder / "cohorts" if self.registered else data_dir
        spec_dir.mkdir(parents=True, exist_ok=True)
        spec = {"name": SPEC_NAME, **self.spec}
        path = spec_dir / f"{SPEC_NAME}.yaml"
        if self.registered:
            spec["path"] = f"../files/{spec['path']}"
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        return path


# --- rendering one logical case for a flavour ----------------------------------------------------

@dataclass(frozen=True)
class Layout:
    file: str
    header: tuple[str, ...]
    spec: dict
    separator: str = ","

    def values(self, row: Row, line: str | None) -> list[str | None]:
        raise NotImplementedError


TABULAR_SPEC = {"columns": {"participant_id": "pid", "recall_day": "day", "food_code": "code", "grams": "g"},
                "reported": {"energy_kcal": "kcal"}, "composition": "demo"}


class TabularLayout(Layout):
    def values(self, row, line):
        return [row.pid, row.day, row.code, row.grams, row.kcal, row.note]


class NhanesLayout(Layout):
    def values(self, row, line):
        return [row.pid, line, "1", row.code, row.grams, row.kcal, row.note]


class Asa24Layout(Layout):
    def values(self, row, line):
        return [row.pid, f"u-{row.pid}", row.day, "0", "2", line, row.code, row.grams, row.kcal, row.note]


LAYOUTS: dict[str, Layout] = {
    "csv": TabularLayout("d.csv", ("pid", "day", "code", "g", "kcal", "note"), {"format": "tabular", **TABULAR_SPEC}),
    "tsv": TabularLayout("d.tsv", ("pid", "day", "code", "g", "kcal", "note"), {"format": "tabular", **TABULAR_SPEC}, "\t"),
    "parquet": TabularLayout("d.parquet", ("pid", "day", "code", "g", "kcal", "note"), {"format": "tabular", **TABULAR_SPEC}),
    "nhanes-txt": NhanesLayout("DR1IFF_T.csv", ("SEQN", "DR1ILINE", "DR1DRSTZ", "DR1IFDCD", "DR1IGRMS", "DR1IKCAL", "DESC"),
                               {"format": "nhanes-iff", "composition": "demo"}),
    "nhanes-xpt": NhanesLayout("DR1IFF_T.XPT", ("SEQN", "DR1ILINE", "DR1DRSTZ", "DR1IFDCD", "DR1IGRMS", "DR1IKCAL"),
                               {"format": "nhanes-iff", "composition": "demo"}),
    "asa24": Asa24Layout("Items.csv", ("UserName", "UserID", "RecallNo", "RecallAttempt", "RecallStatus", "CodeNum",
                                       "FoodCode", "FoodAmt", "KCAL", "Food_Description"),
                         {"format": "asa24-items", "composition": "demo"}),
}
GRAMS_COLUMN = {"csv": "g", "tsv": "g", "parquet": "g", "nhanes-txt": "DR1IGRMS", "nhanes-xpt": "DR1IGRMS", "asa24": "FoodAmt"}


def _lines(rows: list[Row]) -> list[str]:
    """Each row's item number: its own, else its position among its recall's rows."""
    seen: dict[tuple, int] = {}
    out = []
    for row in rows:
        key = (row.pid, row.day)
        seen[key] = seen.get(key, 0) + 1
        out.append(row.line if row.line is not None else str(seen[key]))
    return out


def table(flavour: str, rows: list[Row]) -> tuple[tuple[str, ...], list[list[str | None]]]:
    layout = LAYOUTS[flavour]
    return layout.header, [layout.values(row, line) for row, line in zip(rows, _lines(rows))]


def text_bytes(flavour: str, rows: list[Row], *, separator: str | None = None, header: tuple[str, ...] | None = None) -> bytes:
    """A delimited file as a careful writer prints it (fields holding the delimiter or a quote are quoted)."""
    layout = LAYOUTS[flavour]
    names, values = table(flavour, rows)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator or layout.separator, lineterminator="\n")
    writer.writerow(header or names)
    for row in values:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue().encode("utf-8")


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _numeric(values: list[str | None]) -> bool:
    return all(v is None or _number(v) is not None for v in values)


def parquet_bytes(rows: list[Row]) -> bytes:
    """Columns typed as a dataframe writer would: numbers where every value is one, text otherwise."""
    names, values = table("parquet", rows)
    columns = {}
    for i, name in enumerate(names):
        col = [r[i] for r in values]
        if name == "note" or not _numeric(col):
            columns[name] = pl.Series(name, col, dtype=pl.String)
            continue
        numbers = [_number(v) for v in col]
        if name in ("pid", "day", "code") and all(n is None or (math.isfinite(n) and n == int(n)) for n in numbers):
            columns[name] = pl.Series(name, [None if n is None else int(n) for n in numbers], dtype=pl.Int64)
        else:
            columns[name] = pl.Series(name, numbers, dtype=pl.Float64)
    return frame_bytes(pl.DataFrame(columns))


def frame_bytes(frame: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.write_parquet(out)
    return out.getvalue()


def xpt_bytes(rows: list[Row]) -> bytes | None:
    """NHANES-like SAS transport: every column numeric (None when a value cannot be one: the case does not apply)."""
    names, values = table("nhanes-xpt", rows)
    columns = {}
    for i, name in enumerate(names):
        col = [r[i] for r in values]
        if not _numeric(col):
            return None
        columns[name] = [math.nan if v is None else float(v) for v in col]
    with tempfile.TemporaryDirectory() as tmp:  # pyreadstat writes only to a path
        path = Path(tmp) / "DR1IFF_T.XPT"
        pyreadstat.write_xport(pd.DataFrame(columns), str(path), table_name="DR1IFF", file_format_version=5)
        return path.read_bytes()


# --- the logical cases -----------------------------------------------------------------------------

GOOD = [Row(pid="101", code="99000001", grams="100", kcal="50"),
        Row(pid="101", code="99000002", grams="4500", kcal="0", note="water, 4.5 kg: large but real"),
        Row(pid="102", code="99000003", grams="30.5", kcal="80")]


def with_bad(row: Row) -> list[Row]:
    """The good rows with `row` as data row 2."""
    return [GOOD[0], row, *GOOD[1:]]


@dataclass(frozen=True)
class Logical:
    """A case before rendering: rows (or raw text per flavour) and the expected outcome."""
    name: str
    flavours: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    expect: Kept | Refused | Callable[[str], Kept | Refused] = Kept(0)
    mutate: Callable[[str, bytes], bytes] | None = None  # applied to a text flavour's bytes
    spec: dict = field(default_factory=dict)


def _kept_bad(column: str, reason: str, *, items: int = 3, row: int = 2, values=None) -> Kept:
    return Kept(items, ((row, column, reason),), values)


def _value_cases() -> list[Logical]:
    kcal = "reported__energy_kcal"
    return [
        Logical("grams-negative", ALL, with_bad(Row(grams="-5")), _kept_bad("grams", GRAMS_NOT_POSITIVE)),
        Logical("grams-zero", ALL, with_bad(Row(grams="0")), _kept_bad("grams", GRAMS_NOT_POSITIVE)),
        # One item above 10 kg is absurd; the 4.5 kg of water in GOOD is kept.
        Logical("grams-absurd", ALL, with_bad(Row(grams="12000")),
                lambda f: _kept_bad("grams", GRAMS_ABSURD, values=("12000.0" if f in NUMERIC else "12000",))),
        Logical("grams-as-text", TEXT + ("parquet",), with_bad(Row(grams="100 g")),
                _kept_bad("grams", GRAMS_NOT_NUMBER, values=("100 g",))),
        Logical("grams-thousands-separator", TEXT + ("parquet",), with_bad(Row(grams="1,234.5")),
                _kept_bad("grams", f"grams {COMMA}", values=("1,234.5",))),
        Logical("grams-decimal-comma", TEXT + ("parquet",), with_bad(Row(grams="12,5")),
                _kept_bad("grams", f"grams {COMMA}", values=("12,5",))),
        # SAS transport has no NaN: a NaN written to XPT is a SAS missing value.
        Logical("grams-nan", ALL, with_bad(Row(grams="NaN")),
                lambda f: _kept_bad("grams", GRAMS_MISSING if f == "nhanes-xpt" else GRAMS_NOT_FINITE)),
        Logical("grams-infinite", ALL, with_bad(Row(grams="inf")), _kept_bad("grams", GRAMS_NOT_FINITE)),
        Logical("grams-missing", ALL, with_bad(Row(grams=None)), _kept_bad("grams", GRAMS_MISSING)),
        # A reported NaN means "not reported": the item is kept and falls back to composition.
        Logical("reported-nan", ALL, with_bad(Row(kcal="NaN")),
                Kept(4, check=lambda d: _assert_equal(d.items["reported__energy_kcal"].to_list(), [50.0, None, 0.0, 80.0]))),
        Logical("reported-infinite", ALL, with_bad(Row(kcal="inf")), _kept_bad(kcal, "reported value is not a finite number")),
        Logical("reported-negative", ALL, with_bad(Row(kcal="-3")), _kept_bad(kcal, "reported value is negative")),
        Logical("reported-decimal-comma", TEXT + ("parquet",), with_bad(Row(kcal="1,5")),
                _kept_bad(kcal, f"reported value {COMMA}")),
        Logical("participant-missing", ALL, with_bad(Row(pid=None)), _kept_bad("participant_id", "participant_id is missing")),
        Logical("recall-day-out-of-range", DAY_CARRIERS, [GOOD[0], Row(day="0"), Row(day="400"), *GOOD[1:]],
                Kept(3, ((2, "recall_day", "recall_day out of range 1-366"), (3, "recall_day", "recall_day out of range 1-366")))),
        Logical("recall-day-not-whole", DAY_CARRIERS, with_bad(Row(day="1.5")),
                _kept_bad("recall_day", "recall_day is not a whole number")),
        # An exact repeat of the instrument's item key (NHANES SEQN+day+DR1ILINE, ASA24
        # UserName+RecallNo+RecallAttempt+CodeNum); a tabular file has no key, so nothing to repeat.
        Logical("duplicate-item", ALL, [GOOD[0], replace(GOOD[0], line="1"), *GOOD[1:]],
                lambda f: Kept(4) if f in TABULAR else Kept(
                    3, ((2, "item_key", DUPLICATE),),
                    (f"{'0/' if f == 'asa24' else ''}1 (first: {LAYOUTS[f].file} row 1)",))),
        # The same food twice in a day, as two items of the recall: two items, not a duplicate.
        Logical("same-food-twice-a-day", ALL, [GOOD[0], replace(GOOD[0], line="2"), *GOOD[1:]], Kept(4)),
        # A code no composition knows is an unlinked item, kept (and counted by linkage).
        Logical("food-code-not-in-composition", ALL, with_bad(Row(code="99999999")), Kept(4)),
        Logical("participant-id-latin1", TEXT, with_bad(Row(pid="Jos\u00e9")),
                _kept_bad("participant_id", f"participant_id {NOT_UTF8}", values=("Jos\ufffd",)),
                mutate=lambda f, b: b.replace("Jos\u00e9".encode(), "Jos\u00e9".encode("latin-1"))),
        Logical("grams-latin1", TEXT, with_bad(Row(grams="1\u00bd")), _kept_bad("grams", f"grams {NOT_UTF8}"),
                mutate=lambda f, b: b.replace("1\u00bd".encode(), "1\u00bd".encode("latin-1"))),
        # Nothing usable is a systematic problem, not bad rows: refused rather than an empty cohort.
        Logical("every-row-quarantined", ALL, [replace(r, grams="-5") for r in GOOD],
                lambda f: Refused((LAYOUTS[f].file, f"no row is usable: all 3 were quarantined, 3 of them with '{GRAMS_NOT_POSITIVE}'",
                                   "(first at row 1, column grams); fix the file"))),
        # Latin-1 in a column no rule reads loses nothing: the rows are kept.
        Logical("description-latin1", TEXT, with_bad(Row(note="caf\u00e9 au lait")), Kept(4),
                mutate=lambda f, b: b.replace("caf\u00e9".encode(), "caf\u00e9".encode("latin-1"))),
    ]


def _header_len(flavour: str) -> int:
    return len(LAYOUTS[flavour].header)


def _cut_last_line(flavour: str, content: bytes) -> bytes:
    """The file as a copy interrupted inside the last row's third field."""
    body = content.rstrip(b"\n")
    start = body.rindex(b"\n") + 1
    sep = LAYOUTS[flavour].separator.encode()
    fields = body[start:].split(sep)
    return body[:start] + sep.join(fields[:2]) + sep + fields[2][:2]


def _text_cases() -> list[Logical]:
    def header_line(f: str) -> bytes:
        return text_bytes(f, []).rstrip(b"\n")

    def insert_header(f: str, b: bytes) -> bytes:
        lines = b.split(b"\n")
        return b"\n".join([lines[0], lines[1], header_line(f), *lines[2:]])

    def grams_twice(f: str, b: bytes) -> bytes:
        lines = b.split(b"\n")
        sep = LAYOUTS[f].separator.encode()
        out = [lines[0] + sep + GRAMS_COLUMN[f].encode()] + [line + sep + b"7" if line else line for line in lines[1:]]
        return b"\n".join(out)

    def other_delimiter(f: str, b: bytes) -> bytes:
        return text_bytes(f, GOOD, separator="," if LAYOUTS[f].separator == "\t" else ";")

    def delimiter_hint(f: str) -> Refused:
        used = "," if LAYOUTS[f].separator == "\t" else ";"
        return Refused((LAYOUTS[f].file, f"the header reads as one column, delimited by '{used}' it seems",
                        f'set \'delimiter\' in the cohort spec: delimiter: "{used}"'))

    def blank_lines(f: str, b: bytes) -> bytes:
        lines = b.rstrip(b"\n").split(b"\n")
        sep = LAYOUTS[f].separator.encode()
        return b"\n".join([lines[0], lines[1], b"", sep * (_header_len(f) - 1), *lines[2:]]) + b"\n\n  \n"

    def long_row(f: str, b: bytes) -> bytes:
        lines = b.split(b"\n")
        sep = LAYOUTS[f].separator.encode()
        lines[2] = lines[2] + sep + b"9" + sep + b"9"
        return b"\n".join(lines)

    def open_quote(f: str, b: bytes) -> bytes:
        lines = b.split(b"\n")
        sep = LAYOUTS[f].separator.encode()
        fields = lines[2].split(sep)
        fields[3] = b'"' + fields[3]
        lines[2] = sep.join(fields)
        return b"\n".join(lines)

    def trailing_delimiter(f: str, b: bytes) -> bytes:
        lines = b.split(b"\n")
        sep = LAYOUTS[f].separator.encode()
        return b"\n".join([lines[0], *(line + sep if line else line for line in lines[1:])])

    return [
        Logical("truncated-last-row", TEXT, list(GOOD),
                lambda f: Kept(2, ((3, ROW, f"row has 3 fields, header has {_header_len(f)}"),),
                               (_cut_last_line(f, text_bytes(f, GOOD)).split(b"\n")[-1].decode(),)),
                mutate=_cut_last_line),
        # Cut inside a quoted field: the parser would fail on it; the rows before it are read.
        # (In a TSV the cut field is the unused description: the file is read without quoting, as TSV
        # usually is written, and every used value of the row is whole.)
        Logical("truncated-inside-quotes", TEXT, [*GOOD[:2], replace(GOOD[2], note='cream, "light"')],
                lambda f: Kept(3) if f == "tsv" else Kept(2, ((3, ROW, f"row ends inside a quoted field "
                                                                   f"({_header_len(f)} of {_header_len(f)} fields): "
                                                                   "the file looks cut short"),)),
                mutate=lambda f, b: b.rstrip(b"\n")[:-10]),
        # A complete last row without a line end is not truncation.
        Logical("no-final-line-end", TEXT, list(GOOD), Kept(3), mutate=lambda f, b: b.rstrip(b"\n")),
        Logical("wrong-delimiter", TEXT, list(GOOD), delimiter_hint, mutate=other_delimiter),
        Logical("header-only", TEXT, [], lambda f: Refused((LAYOUTS[f].file, "has no data rows", "give the file with its diary rows"))),
        Logical("empty-file", TEXT, [], lambda f: Refused((LAYOUTS[f].file, "has no data rows")), mutate=lambda f, b: b""),
        Logical("header-repeated-inside", TEXT, list(GOOD),
                lambda f: Kept(3, ((2, ROW, REPEATED_HEADER),), (header_line(f).decode(),)), mutate=insert_header),
        Logical("header-repeated-with-bom", TEXT, list(GOOD), Kept(3, ((2, ROW, REPEATED_HEADER),)),
                mutate=lambda f, b: b"\xef\xbb\xbf" + insert_header(f, b).replace(b"\n" + header_line(f), b"\n\xef\xbb\xbf" + header_line(f))),
        Logical("column-name-twice", TEXT, list(GOOD),
                lambda f: Refused((LAYOUTS[f].file, f"column '{GRAMS_COLUMN[f]}' appears 2 times in the header",
                                   "rename or remove the repeated column")), mutate=grams_twice),
        Logical("bom", TEXT, list(GOOD), Kept(3), mutate=lambda f, b: b"\xef\xbb\xbf" + b),
        Logical("crlf-line-ends", TEXT, list(GOOD), Kept(3), mutate=lambda f, b: b.replace(b"\n", b"\r\n")),
        # Blank lines and ",,,," lines (spreadsheets' empty rows) hold no value: skipped, not items.
        Logical("blank-lines", TEXT, list(GOOD), Kept(3), mutate=blank_lines),
        Logical("row-with-extra-fields", TEXT, list(GOOD),
                lambda f: Kept(2, ((2, ROW, f"row has {_header_len(f) + 2} fields, header has {_header_len(f)}"),)),
                mutate=long_row),
        # Some exporters end every data row with a delimiter: an empty field beyond the header's.
        Logical("trailing-delimiter-on-data-rows", TEXT, list(GOOD), Kept(3), mutate=trailing_delimiter),
        Logical("quote-never-closed", TEXT, list(GOOD),
                lambda f: Refused((LAYOUTS[f].file, 'line 3 has a quote (") that opens a field and never closes',
                                   f"in column '{LAYOUTS[f].header[3]}'", "fix the quoting")), mutate=open_quote),
        Logical("utf16-text", TEXT, list(GOOD), lambda f: Refused((LAYOUTS[f].file, "UTF-16", "save it as UTF-8")),
                mutate=lambda f, b: b.decode("utf-8").encode("utf-16")),
    ]


MANY = [Row(pid=str(100 + i // 4), code=f"9900000{1 + i % 9}", grams=str(10 + i), kcal=str(i), note=f"item {i}")
        for i in range(24)]


def _line_ends(pattern: tuple[bytes, ...]) -> Callable[[str, bytes], bytes]:
    """Each LF of a file replaced by the pattern's line ends in turn (the header's first)."""
    def mutate(flavour: str, content: bytes) -> bytes:
        lines = content.split(b"\n")
        out = [line + pattern[k % len(pattern)] for k, line in enumerate(lines[:-1])]
        return b"".join(out) + lines[-1]
    return mutate


def _untrusted(reason: str, code: str | None, items: int = 4) -> Kept:
    """The bad code's item kept unlinked (no code), the reason and the code as printed in untrusted_codes."""
    def check(diary) -> None:
        _assert_equal(diary.items["food_code"].null_count(), 1)
        _assert_equal(diary.untrusted_codes.select("food_code", "reason", "n_items").rows(), [(code, reason, 1)])
    return Kept(items, check=check)


def _code_is(expected: int) -> Kept:
    return Kept(4, check=lambda d: _assert_equal(d.items["food_code"][1], expected))


SCIENTIFIC = ("food_code is in scientific notation that is not a whole number of the source's digits (a "
              "spreadsheet's display hides digits); format the column as whole numbers and save the file again")
CODE_NOT_NUMBER = "food_code is missing or not a number"


def _line_end_cases() -> list[Logical]:
    """Every line-end convention, alone and mixed, read as lines (issue 12, item 10)."""
    bad = with_bad(Row(grams="-5"))
    cr, lf, crlf = b"\r", b"\n", b"\r\n"

    def cr_in_quoted_note(f: str, b: bytes) -> bytes:
        return b.replace(b"two\nlines", b"two\rlines")

    return [
        Logical("cr-line-ends", TEXT, list(MANY), Kept(24), mutate=_line_ends((cr,))),
        Logical("cr-line-ends-with-a-bad-row", TEXT, bad, _kept_bad("grams", GRAMS_NOT_POSITIVE), mutate=_line_ends((cr,))),
        Logical("crlf-line-ends-many", TEXT, list(MANY), Kept(24), mutate=_line_ends((crlf,))),
        # The adversarial trial's file: CR, LF and CRLF at random; 199 of its 600 rows were lost.
        Logical("mixed-cr-lf-crlf-line-ends", TEXT, list(MANY), Kept(24), mutate=_line_ends((lf, cr, crlf, cr, cr, lf, crlf))),
        Logical("mixed-lf-and-crlf-line-ends", TEXT, list(MANY), Kept(24), mutate=_line_ends((crlf, lf))),
        Logical("mixed-line-ends-with-a-bad-row", TEXT, bad, _kept_bad("grams", GRAMS_NOT_POSITIVE),
                mutate=_line_ends((cr, crlf, lf))),
        Logical("cr-after-header-lf-after-rows", TEXT, list(MANY), Kept(24), mutate=_line_ends((cr, lf))),
        # LF CR (reversed): a lone CR after each line end is a blank line, skipped
        Logical("lf-cr-line-ends", TEXT, list(MANY), Kept(24), mutate=_line_ends((lf + cr,))),
        Logical("cr-line-ends-no-final-line-end", TEXT, list(GOOD), Kept(3), mutate=lambda f, b: _line_ends((cr,))(f, b).rstrip(cr)),
        Logical("cr-line-ends-with-blank-lines", TEXT, list(GOOD), Kept(3),
                mutate=lambda f, b: _line_ends((cr,))(f, b).replace(cr, cr + cr + cr, 1) + cr + cr),
        Logical("cr-line-ends-header-only", TEXT, [], lambda f: Refused((LAYOUTS[f].file, "has no data rows")),
                mutate=_line_ends((cr,))),
        Logical("cr-line-ends-with-bom", TEXT, list(GOOD), Kept(3), mutate=lambda f, b: b"\xef\xbb\xbf" + _line_ends((cr,))(f, b)),
        Logical("cr-line-ends-repeated-header", TEXT, list(GOOD), Kept(3, ((2, ROW, REPEATED_HEADER),)),
                mutate=lambda f, b: _line_ends((cr,))(f, b.replace(b"\n", b"\n" + b.split(b"\n")[0] + b"\n", 2)
                                                     .replace(b"\n" + b.split(b"\n")[0] + b"\n", b"\n", 1))),
        Logical("cr-line-ends-truncated-last-row", TEXT, list(GOOD),
                lambda f: Kept(2, ((3, ROW, f"row has 3 fields, header has {_header_len(f)}"),)),
                mutate=lambda f, b: _line_ends((cr,))(f, _cut_last_line(f, b))),
        # A line break inside a quoted description (a spreadsheet cell with two lines), written as CR
        Logical("cr-inside-a-quoted-field", TEXT, with_bad(Row(note="two\nlines")), Kept(4), mutate=cr_in_quoted_note),
        Logical("crlf-file-with-cr-inside-a-quoted-field", TEXT, with_bad(Row(note="two\nlines")), Kept(4),
                mutate=lambda f, b: cr_in_quoted_note(f, b).replace(b"\n", b"\r\n")),
    ]


def _encoding_cases() -> list[Logical]:
    def latin1(text: str) -> Callable[[str, bytes], bytes]:
        return lambda f, b: b.replace(text.encode(), text.encode("latin-1"))

    return [
        Logical("bom-and-crlf", TEXT, list(GOOD), Kept(3), mutate=lambda f, b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n")),
        Logical("utf16-le-text", TEXT, list(GOOD), lambda f: Refused((LAYOUTS[f].file, "UTF-16", "save it as UTF-8")),
                mutate=lambda f, b: b"\xff\xfe" + b.decode().encode("utf-16-le")),
        Logical("utf16-be-text", TEXT, list(GOOD), lambda f: Refused((LAYOUTS[f].file, "UTF-16", "save it as UTF-8")),
                mutate=lambda f, b: b"\xfe\xff" + b.decode().encode("utf-16-be")),
        Logical("utf16-without-bom", TEXT, list(GOOD), lambda f: Refused((LAYOUTS[f].file, "has NUL bytes", "save it as UTF-8")),
                mutate=lambda f, b: b.decode().encode("utf-16-le")),
        Logical("utf32-text", TEXT, list(GOOD), lambda f: Refused((LAYOUTS[f].file, "UTF-16/UTF-32", "save it as UTF-8")),
                mutate=lambda f, b: b.decode().encode("utf-32")),
        # Windows-1252 curly quotes in a column no rule reads: nothing lost
        Logical("windows-1252-quotes-in-description", TEXT, with_bad(Row(note="\u201cfresh\u201d")), Kept(4),
                mutate=lambda f, b: b.replace("\u201cfresh\u201d".encode(), "\u201cfresh\u201d".encode("cp1252"))),
        Logical("latin1-in-an-unused-header-name", TEXT, list(GOOD), Kept(3),
                mutate=lambda f, b: b.replace(LAYOUTS[f].header[-1].encode(), "descripci\u00f3n".encode("latin-1"), 1)),
        Logical("latin1-and-crlf-and-bom", TEXT, with_bad(Row(note="cr\u00e8me")), Kept(4),
                mutate=lambda f, b: b"\xef\xbb\xbf" + latin1("cr\u00e8me")(f, b).replace(b"\n", b"\r\n")),
        Logical("latin1-in-reported-value", TEXT, with_bad(Row(kcal="5\u00b0")),
                _kept_bad("reported__energy_kcal", "reported value has bytes that are not UTF-8 (Latin-1 or Windows-1252?); "
                          "save the file as UTF-8"), mutate=latin1("5\u00b0")),
        # A food code with a byte that is not UTF-8 cannot be trusted: the item is kept unlinked
        Logical("latin1-in-food-code", TEXT, with_bad(Row(code="9900000\u00b9")),
                _untrusted("food_code has bytes that are not UTF-8 (Latin-1 or Windows-1252?); save the file as UTF-8",
                           "9900000\ufffd"), mutate=latin1("9900000\u00b9")),
        Logical("nul-bytes-at-the-end", TEXT, list(GOOD),
                lambda f: Refused((LAYOUTS[f].file, "has NUL bytes")), mutate=lambda f, b: b + b"\x00" * 64),
    ]


def _truncation_cases() -> list[Logical]:
    def cut_inside_character(f: str, b: bytes) -> bytes:
        return b.rstrip(b"\n")[:-1]  # the last row's description "caf\u00e9" loses the second byte of its \u00e9

    return [
        Logical("truncated-inside-a-utf8-character", TEXT, [*GOOD[:2], replace(GOOD[2], note="caf\u00e9")], Kept(3),
                mutate=cut_inside_character),
        Logical("truncated-inside-the-header", TEXT, [], lambda f: Refused((LAYOUTS[f].file, "is missing")),
                mutate=lambda f, b: b.split(b"\n")[0][:5]),
        Logical("truncated-after-a-delimiter", TEXT, list(GOOD),
                lambda f: Kept(2, ((3, ROW, f"row has 4 fields, header has {_header_len(f)}"),)),
                mutate=lambda f, b: b.rstrip(b"\n")[:b.rstrip(b"\n").rindex(b"\n") + 1]
                + LAYOUTS[f].separator.join(table(f, GOOD)[1][2][:3]).encode() + LAYOUTS[f].separator.encode()),
        Logical("truncated-after-the-last-full-row", TEXT, list(GOOD), Kept(3), mutate=lambda f, b: b.rstrip(b"\n") + b"\n"),
        Logical("truncated-to-a-few-bytes-of-the-first-row", TEXT, list(GOOD[:1]),
                lambda f: Refused((LAYOUTS[f].file, "no row is usable", "(first at row 1)")),
                mutate=lambda f, b: b[:b.index(b"\n") + 3]),
    ]


def _food_code_cases() -> list[Logical]:
    """Codes as files print them (issue 12, item 9): exact scientific notation is the code; an untrusted code keeps its item."""
    return [
        Logical("code-in-scientific-notation", TEXT + ("parquet",), with_bad(Row(code="9.9000002e+07")), _code_is(99000002)),
        Logical("code-in-r-scientific-notation", TEXT + ("parquet",), with_bad(Row(code="9.9e+07")), _code_is(99000000)),
        Logical("code-in-upper-case-scientific-notation", TEXT + ("parquet",), with_bad(Row(code="9.9000003E+07")),
                _code_is(99000003)),
        Logical("code-in-inexact-scientific-notation", TEXT + ("parquet",), with_bad(Row(code="9.90000025e+07")),
                lambda f: _untrusted(SCIENTIFIC, "9.90000025e+07") if f != "parquet" else _untrusted(CODE_NOT_NUMBER, "99000002.5")),
        Logical("code-printed-as-float", ALL, with_bad(Row(code="99000004.0")), _code_is(99000004)),
        Logical("code-missing", ALL, with_bad(Row(code=None)), _untrusted(CODE_NOT_NUMBER, None)),
        Logical("code-as-text", TEXT + ("parquet",), with_bad(Row(code="yogurt")), _untrusted(CODE_NOT_NUMBER, "yogurt")),
        Logical("code-too-long", ALL, with_bad(Row(code="123456789")),
                lambda f: _untrusted("food_code longer than 8 digits", "123456789.0" if f == "nhanes-xpt" else "123456789")),
        Logical("code-negative", TEXT + ("parquet",), with_bad(Row(code="-99000001")), _untrusted(CODE_NOT_NUMBER, "-99000001")),
        Logical("code-with-a-thousands-separator", TEXT + ("parquet",), with_bad(Row(code="99,000,001")),
                _untrusted("food_code has a thousands separator or a decimal comma; write numbers with a dot decimal "
                           "and no thousands separator", "99,000,001")),
        # An untrusted code with bad grams is a bad row: quarantined for the grams
        Logical("code-untrusted-and-grams-bad", TEXT + ("parquet",), with_bad(Row(code="x", grams="-1")),
                _kept_bad("grams", GRAMS_NOT_POSITIVE)),
        Logical("every-code-unreadable", TEXT + ("parquet",), [replace(r, code="n/a food") for r in GOOD],
                lambda f: Refused((LAYOUTS[f].file if f != "parquet" else "d.parquet", "no food code is usable",
                                   "all 3 items' codes could not be read", "e.g. 'n/a food'"))),
    ]


def _render(logical: Logical, flavour: str) -> Case | None:
    layout = LAYOUTS[flavour]
    expect = logical.expect(flavour) if callable(logical.expect) else logical.expect
    if flavour == "parquet":
        content = parquet_bytes(logical.rows)
    elif flavour == "nhanes-xpt":
        content = xpt_bytes(logical.rows)
        if content is None:
            return None
    else:
        content = text_bytes(flavour, logical.rows)
        if logical.mutate:
            content = logical.mutate(flavour, content)
    spec = {**layout.spec, "path": layout.file, **logical.spec}
    if flavour == "tsv":
        spec["delimiter"] = "\t"
    return Case(logical.name, flavour, {layout.file: content}, spec, expect)


def _special_cases() -> list[Case]:
    """Cases tied to one format: Parquet types, XPT zeros and damage, columns differing by case."""
    csv_spec = {**LAYOUTS["csv"].spec, "path": "d.csv"}
    pq_spec = {**LAYOUTS["parquet"].spec, "path": "d.parquet"}
    xpt_spec = {**LAYOUTS["nhanes-xpt"].spec, "path": "DR1IFF_T.XPT"}
    by_case = {**TABULAR_SPEC["columns"], "recall_day": "Day"}
    # NHANES-derived files carry DAY (day of the week, 1-7) beside Day (the recall day, 1-2).
    two_days = b"pid,DAY,Day,code,g,kcal\n101,5,1,99000001,100,50\n101,6,2,99000002,200,60\n"
    wrong_types = pl.DataFrame({
        "pid": pl.Series([101.0, 101.0, 102.0, 102.0, float("nan")], dtype=pl.Float64),  # ids written as floats
        "day": pl.Series([1.0, 1.5, 1.0, 1.0, 1.0], dtype=pl.Float64),
        "code": pl.Series([99000001, 99000002, 99000003, 99000004, 99000005], dtype=pl.Int64),
        "g": pl.Series(["100", "50", "12,5", "lots", "10"], dtype=pl.String),                 # grams as text
        "kcal": pl.Series([50.0, 1.0, 1.0, 1.0, 1.0], dtype=pl.Float64)})
    good_pq = parquet_bytes(GOOD)
    xpt_zero = xpt_bytes([Row(grams="100", kcal=str(XPT_ZERO)), Row(grams=str(XPT_ZERO))])
    xpt_good = xpt_bytes(GOOD)

    def _pq(**columns) -> bytes:
        base = {"pid": [101], "day": [1], "code": [99000001], "g": [100.0], "kcal": [50.0]}
        return frame_bytes(pl.DataFrame({**base, **columns}))

    european = text_bytes("csv", [replace(r, grams=r.grams + ",0") for r in GOOD], separator=";")
    return [
        # A spreadsheet saved in a decimal-comma locale, delimiter set right: every gram has a comma.
        Case("decimal-comma-locale", "csv", {"d.csv": european}, {**csv_spec, "delimiter": ";"},
             Refused(("d.csv", f"no row is usable: all 3 were quarantined, 3 of them with 'grams {COMMA}'",
                      "(first at row 1, column grams)"))),
        Case("columns-differing-by-case", "csv", {"d.csv": two_days}, {**csv_spec, "columns": by_case},
             Kept(2, check=lambda d: _assert_equal(d.items["recall_day"].to_list(), [1, 2]))),
        Case("column-named-by-wrong-case", "csv", {"d.csv": two_days}, csv_spec,
             Refused(("d.csv", "column 'day' is missing", "'DAY', 'Day'", "differs only by case", "columns.recall_day"))),
        Case("columns-differing-by-case", "parquet",
             {"d.parquet": frame_bytes(pl.read_csv(two_days))}, {**pq_spec, "columns": by_case},
             Kept(2, check=lambda d: _assert_equal(d.items["recall_day"].to_list(), [1, 2]))),
        # Castable types are cast; values that do not cast are quarantined, row by row.
        Case("wrong-types", "parquet", {"d.parquet": frame_bytes(wrong_types)}, pq_spec,
             Kept(1, ((2, "recall_day", "recall_day is not a whole number"), (3, "grams", f"grams {COMMA}"),
                      (4, "grams", GRAMS_NOT_NUMBER), (5, "participant_id", "participant_id is missing")),
                  check=lambda d: _assert_equal(d.items["participant_id"].to_list(), ["101"]))),
        # Types that can hold no number or id are a mapping or export mistake: refused.
        Case("grams-boolean", "parquet", {"d.parquet": _pq(g=[True])}, pq_spec,
             Refused(("d.parquet", "column 'g' (columns.grams) has type Boolean", "write it as numbers or text"))),
        Case("recall-day-as-date", "parquet", {"d.parquet": _pq(day=[date(2024, 1, 1)])}, pq_spec,
             Refused(("d.parquet", "column 'day' (columns.recall_day) has type Date", "fix columns.recall_day"))),
        Case("grams-list", "parquet", {"d.parquet": _pq(g=[[1.0, 2.0]])}, pq_spec,
             Refused(("d.parquet", "column 'g' (columns.grams) has type List(Float64)"))),
        Case("damaged", "parquet", {"d.parquet": good_pq[: len(good_pq) // 2]}, pq_spec,
             Refused(("d.parquet", "cannot be read as tabular", "check that it is an undamaged CSV, TSV or Parquet file"))),
        # Zeros some XPT readers return as 5.4e-79: a zero reported value is 0, zero grams is bad.
        Case("zero-read-as-5.4e-79", "nhanes-xpt", {"DR1IFF_T.XPT": xpt_zero}, xpt_spec,
             Kept(1, ((2, "grams", GRAMS_NOT_POSITIVE),), ("0.0",),
                  check=lambda d: _assert_equal(d.items["reported__energy_kcal"].to_list(), [0.0]))),
        Case("damaged", "nhanes-xpt", {"DR1IFF_T.XPT": xpt_good[:-200]}, xpt_spec,
             Refused(("DR1IFF_T.XPT", "cannot be read as nhanes-iff", "check that it is an undamaged NHANES"))),
        # More truncations of binary files: each refused in one line, never read as fewer rows
        Case("cut-before-the-footer", "parquet", {"d.parquet": good_pq[:-8]}, pq_spec,
             Refused(("d.parquet", "cannot be read as tabular"))),
        Case("only-the-magic-bytes", "parquet", {"d.parquet": b"PAR1"}, pq_spec, Refused(("d.parquet", "cannot be read as tabular"))),
        Case("empty-file", "parquet", {"d.parquet": b""}, pq_spec, Refused(("d.parquet",))),
        Case("no-rows", "parquet", {"d.parquet": frame_bytes(pl.read_parquet(good_pq).head(0))}, pq_spec,
             Refused(("d.parquet", "has no data rows"))),
        Case("cut-at-a-record-boundary", "nhanes-xpt", {"DR1IFF_T.XPT": xpt_good[:len(xpt_good) - 80 - len(xpt_good) % 80]},
             xpt_spec, Refused(("DR1IFF_T.XPT",))),
        Case("cut-inside-a-record", "nhanes-xpt", {"DR1IFF_T.XPT": xpt_good[:-37]}, xpt_spec,
             Refused(("DR1IFF_T.XPT", "the file is cut short", "download or copy it again"))),
        Case("header-only", "nhanes-xpt", {"DR1IFF_T.XPT": xpt_good[:80 * 3]}, xpt_spec, Refused(("DR1IFF_T.XPT",))),
    ]


def _spec_cases() -> list[Case]:
    """Spec problems: names, paths outside data/, files that do not exist."""
    good = text_bytes("csv", GOOD)
    csv_spec = {**LAYOUTS["csv"].spec, "path": "d.csv"}
    name_fix = "must match [a-z0-9_-]+ (lower-case letters, digits, _ and -)"
    return [
        Case("data-file-missing", "spec", {}, {**csv_spec, "path": "nothere.csv"},
             Refused(("path 'nothere.csv' matches no file", "fix 'path'"))),
        Case("name-with-spaces", "spec", {"d.csv": good}, {**csv_spec, "name": "my study"},
             Refused(("field 'name'", "'my study'", name_fix))),
        Case("name-with-sql", "spec", {"d.csv": good}, {**csv_spec, "name": "x; DROP TABLE marts.participant_exposure; --"},
             Refused(("field 'name'", "'x; DROP TABLE marts.participant_exposure; --'", name_fix))),
        Case("unknown-composition", "spec", {"d.csv": good}, {**csv_spec, "composition": "fndds-2019"},
             Refused(("field 'composition': unknown source 'fndds-2019'", "use one of: ", "fndds-2017-2018"))),
        Case("composition-without-food-values", "spec", {"d.csv": good}, {**csv_spec, "composition": "fped-2017-2018"},
             Refused(("field 'composition': source without food composition 'fped-2017-2018'", "use one of: "))),
        Case("unknown-field", "spec", {"d.csv": good}, {**csv_spec, "delimeter": ";"},
             Refused(("field 'delimeter'", "Extra inputs are not permitted"))),
        # Registered specs (in the cohorts folder) read only under the data folders...
        Case("registered-path-outside-data", "spec", {"d.csv": good}, csv_spec,
             Refused(("path '../files/d.csv' points outside the project's data folder",
                      "external_path: true", "gutaxis run --cohort SPEC.yaml")), registered=True),
        # ... unless the spec says so explicitly (what `cohort add --path` writes for such a path).
        Case("registered-path-outside-data-explicit", "spec", {"d.csv": good}, {**csv_spec, "external_path": True},
             Kept(3), registered=True),
        # A spec given by its path (a one-off run) may read anywhere.
        Case("one-off-path-outside-data", "spec", {"d.csv": good}, csv_spec, Kept(3)),
        Case("registered-name-differs-from-file", "spec", {"d.csv": good}, {**csv_spec, "name": "other"},
             Refused(("field 'name': 'other' differs from the file name 'corpus'", "rename the file to other.yaml")),
             registered=True),
        *_spec_limits(good, csv_spec),
    ]


def _spec_limits(good: bytes, csv_spec: dict) -> list[Case]:
    """What the spec check refuses before a run is recorded (issue 12, item 14), and what it lets through."""
    tsv = text_bytes("tsv", GOOD)
    tsv_spec = {**LAYOUTS["tsv"].spec, "path": "d.tsv"}
    one_char = "must be a single character"
    status_spec = {**csv_spec, "columns": {**csv_spec["columns"], "recall_status": "kcal"}}
    return [
        Case("delimiter-two-characters", "spec", {"d.csv": good}, {**csv_spec, "delimiter": ";;"},
             Refused(("field 'delimiter'", "';;'", one_char))),
        Case("delimiter-empty", "spec", {"d.csv": good}, {**csv_spec, "delimiter": ""}, Refused(("field 'delimiter'", one_char))),
        Case("delimiter-word", "spec", {"d.csv": good}, {**csv_spec, "delimiter": "comma"},
             Refused(("field 'delimiter'", "'comma'", one_char))),
        Case("delimiter-quote", "spec", {"d.csv": good}, {**csv_spec, "delimiter": '"'},
             Refused(("field 'delimiter'", "is a quote or line end"))),
        Case("delimiter-line-end", "spec", {"d.csv": good}, {**csv_spec, "delimiter": "\n"},
             Refused(("field 'delimiter'", "is a quote or line end"))),
        Case("delimiter-tab-written-as-word", "spec", {"d.tsv": tsv}, {**tsv_spec, "delimiter": "tab"}, Kept(3)),
        Case("delimiter-tab-written-as-escape", "spec", {"d.tsv": tsv}, {**tsv_spec, "delimiter": "\\t"}, Kept(3)),
        Case("valid-recall-status-empty", "spec", {"d.csv": good}, {**status_spec, "valid_recall_status": []},
             Refused(("field 'valid_recall_status'", "an empty list would exclude every recall", "valid_recall_status: [1]"))),
        Case("valid-recall-status-not-numbers", "spec", {"d.csv": good}, {**status_spec, "valid_recall_status": ["ok"]},
             Refused(("field 'valid_recall_status.0'",))),
        # kcal read as the status column: participant 101's recall (50, 0) is usable, 102's (80) excluded
        Case("valid-recall-status-set", "spec", {"d.csv": good}, {**status_spec, "valid_recall_status": [50, 0]},
             Kept(2, check=lambda d: _assert_equal(d.excluded_rows, 1))),
        Case("name-230-characters", "spec", {"d.csv": good}, {**csv_spec, "name": "a" * 230},
             Refused(("field 'name'", "is 230 characters long", "use at most 64"))),
        Case("name-65-characters", "spec", {"d.csv": good}, {**csv_spec, "name": "b" * 65},
             Refused(("field 'name'", "is 65 characters long"))),
        Case("name-64-characters", "spec", {"d.csv": good}, {**csv_spec, "name": "c" * 64}, Kept(3)),
        Case("name-upper-case", "spec", {"d.csv": good}, {**csv_spec, "name": "Study"},
             Refused(("field 'name'", "'Study'", "must match [a-z0-9_-]+"))),
        Case("name-with-a-slash", "spec", {"d.csv": good}, {**csv_spec, "name": "../other"},
             Refused(("field 'name'", "must match [a-z0-9_-]+"))),
        Case("low-coverage-threshold-above-one", "spec", {"d.csv": good}, {**csv_spec, "low_coverage_threshold": 1.5},
             Refused(("field 'low_coverage_threshold'", "less than or equal to 1"))),
        Case("unknown-format", "spec", {"d.csv": good}, {**csv_spec, "format": "csv"},
             Refused(("field 'format'", "'asa24-items', 'nhanes-iff', 'tabular', 'nhanes-tot', 'asa24-totals' or 'tabular-totals'"))),
        Case("tabular-without-grams-mapping", "spec", {"d.csv": good},
             {**csv_spec, "columns": {k: v for k, v in csv_spec["columns"].items() if k != "grams"}},
             Refused(("tabular spec lacks columns mapping for ['grams']",))),
        Case("unknown-reported-component", "spec", {"d.csv": good}, {**csv_spec, "reported": {"vitamin_q": "kcal"}},
             Refused(("field 'reported'", "unknown component id 'vitamin_q' (did you mean vitamin_c?); valid ids: energy_kcal"))),
        Case("unknown-canonical-column", "spec", {"d.csv": good}, {**csv_spec, "columns": {**csv_spec["columns"], "weight": "g"}},
             Refused(("field 'columns'", "unknown canonical column(s) ['weight']"))),
        Case("reported-column-missing-from-file", "spec", {"d.csv": good}, {**csv_spec, "reported": {"fiber": "FIBE"}},
             Refused(("d.csv", "column 'FIBE' is missing", "fix reported.fiber"))),
        # A quote in a TSV's description column (5" pizza): TSV quotes are text; the rows are read
        Case("tsv-quote-in-an-unused-column", "tsv", {"d.tsv": text_bytes("tsv", with_bad(Row(note='pizza, 5" wide')))
                                                     .replace(b'"pizza, 5"" wide"', b'pizza, 5" wide')},
             {**tsv_spec, "delimiter": "\t"}, Kept(4)),
        Case("tsv-quote-opening-an-unused-column", "tsv", {"d.tsv": text_bytes("tsv", with_bad(Row(note="x")))
                                                          .replace(b"\tx\n", b'\t"light cream\n')},
             {**tsv_spec, "delimiter": "\t"}, Kept(4)),
        Case("tsv-quoted-values-with-a-stray-quote-in-an-unused-column", "tsv",
             {"d.tsv": b'pid\tday\tcode\tg\tkcal\tnote\n"101"\t"1"\t"99000001"\t"100"\t"50"\t5" pizza\n'
                       b'"102"\t"1"\t"99000002"\t"30.5"\t"80"\t"a ""quoted"" word"\n'},
             {**tsv_spec, "delimiter": "\t"},
             Kept(2, check=lambda d: _assert_equal(d.items.select("participant_id", "food_code", "grams").rows(),
                                                   [("101", 99000001, 100.0), ("102", 99000002, 30.5)]))),
        Case("tsv-quote-in-a-used-column", "tsv", {"d.tsv": text_bytes("tsv", with_bad(Row(grams='12"'))).replace(b'"12"""', b'12"')},
             {**tsv_spec, "delimiter": "\t"},
             Refused(("d.tsv", "line 3 has a quote", "in column 'g'", "fix the quoting"))),
        Case("csv-quote-in-an-unused-column", "csv", {"d.csv": good.replace(b"plain yogurt", b'plain "yogurt', 1)},
             csv_spec, Refused(("d.csv", "line 2 has a quote", "in column 'note'", "fix the quoting"))),
    ]


def cases() -> Iterator[Case]:
    """Every case of the corpus, in memory (`Case.write` puts one in a folder)."""
    for logical in _value_cases() + _text_cases() + _line_end_cases() + _encoding_cases() + _truncation_cases() + _food_code_cases():
        for flavour in logical.flavours:
            case = _render(logical, flavour)
            if case is not None:
                yield case
    yield from _special_cases()
    yield from _spec_cases()


def _assert_equal(got, expected) -> None:
    assert got == expected, f"{got} != {expected}"
