"""Tabular diaries (CSV, TSV, Parquet) read through a cohort spec's `columns` and `reported` maps.

Also home of the text-file helpers the other diary readers share (encoding and delimiter checks,
the all-text scan, the row-shape pass, the missing-column message), so every reader reports
problems the same way.

Text files are read as UTF-8 (a BOM is dropped). Before the rows are typed, one streaming pass
over the file's lines finds what a CSV parser would hide: rows with fewer or more fields than
the header (a cut-off last line, a stray delimiter), copies of the header line inside the data
(files concatenated with their headers) and blank lines. Malformed rows are passed on with a
`row_problem` (and their text as `row_text`) and quarantined by gutaxis.diary_rules; blank
lines, or lines of only delimiters as spreadsheets export them, hold no value and are skipped.
A last line cut inside a quoted field is such a malformed row too (the rows before it are
read); any other quote that never closes fails the file with its line number, since a parser
would swallow the rows after it. When quoting spans lines (a quoted field with a line break),
lines are not rows: the pass is left out and the CSV parser's own errors apply (a ragged row
fails the file).

Line ends: LF, CRLF, CR alone (old spreadsheet and Mac exports) and any mix of them each end a
line, as Python's universal newlines read them. CSV parsers take only LF (and CRLF) as a line
end, so a file with a lone CR is read from a copy in memory whose line ends are all LF; the raw
bytes' line ends are also counted, so the rows a reader returns can be checked against the
lines the file holds (`Records`).
"""
from __future__ import annotations

import csv
import io
import mmap
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from gutaxis import GutaxisError
from gutaxis.formats import REPORTED_PREFIX
from gutaxis.specs import DELIMITER_ALIASES, CohortSpec, delimiter_problem

PARQUET_SUFFIXES = (".parquet", ".pq")
# Column names a data file is unlikely to use; renamed once the file's own columns are picked.
ROW_INDEX = "__gutaxis_source_row"
ROW_PROBLEM = "__gutaxis_row_problem"
ROW_TEXT = "__gutaxis_row_text"
_SNIFF_CANDIDATES = ("\t", ",", ";", "|")
_SPEC_DELIMITER = {"\t": '"\\t"', ",": '","', ";": '";"', "|": '"|"'}
QUOTE = '"'
ROW_TEXT_MAX = 200  # characters of a malformed row kept in audit.quarantine.value
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
SAVE_AS_UTF8 = "save it as UTF-8 text (in Excel: CSV UTF-8)"


def text_separator(path: Path, delimiter: str | None) -> str:
    """The spec's delimiter, else one implied by the extension, else the most frequent candidate in the header."""
    if delimiter:
        problem = delimiter_problem(delimiter)  # checked with the spec already; a frame read without one
        if problem:
            raise GutaxisError(f"{path}: {problem}; fix 'delimiter' in the cohort spec")
        return DELIMITER_ALIASES.get(delimiter, delimiter)
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    header = _first_line(path)
    counts = {c: header.count(c) for c in _SNIFF_CANDIDATES}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _first_line(path: Path) -> str:
    """The header line as text: UTF-8 (bytes that are not become U+FFFD), without BOM and line end (LF, CRLF or CR)."""
    with open(path, "rb") as fh:
        raw = fh.read(1 << 20)
    raw = re.split(rb"\r\n?|\n", raw, maxsplit=1)[0]
    return raw.decode("utf-8", errors="replace").removeprefix("\ufeff")


@dataclass(frozen=True)
class LineEnds:
    """The line ends of a file's raw bytes: LF, CRLF and a lone CR each end one line."""
    ends: int       # line ends
    lone_cr: int    # of which a CR not followed by LF
    last_ended: bool  # whether the last line has its line end (an empty file: True)

    @property
    def lines(self) -> int:
        return self.ends + (0 if self.last_ended else 1)


def line_ends(path: Path) -> LineEnds:
    """Count the line ends of a file in blocks (C-speed byte counts, no decoding)."""
    lf = cr = crlf = 0
    previous_cr = False
    last = b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            lf += block.count(b"\n")
            cr += block.count(b"\r")
            crlf += block.count(b"\r\n") + (previous_cr and block[:1] == b"\n")
            previous_cr = block[-1:] == b"\r"
            last = block[-1:]
    return LineEnds(lf + cr - crlf, cr - crlf, last in (b"\n", b"\r"))


def _lf_text(path: Path) -> bytes:
    """The file's bytes with every line end (CRLF or a lone CR) written as LF."""
    return path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def refuse_non_utf8_text(path: Path) -> None:
    """UTF-16/32 text (Excel's "Unicode text") and binary files are not CSV: say so instead of misreading them."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(_UTF16_32_BOMS):
        raise GutaxisError(f"{path}: is UTF-16/UTF-32 text (it starts with that byte-order mark); {SAVE_AS_UTF8}")
    if b"\x00" in head:
        raise GutaxisError(f"{path}: has NUL bytes, so it is binary or UTF-16 text, not a CSV/TSV file; "
                           f"{SAVE_AS_UTF8}, or check 'path' and 'format' in the cohort spec")
    with open(path, "rb") as fh:
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - 4096))
        tail = fh.read()
    if tail.endswith(b"\x00"):
        # space a writer reserved and never filled: a copy or download cut short by a crash or a full disk
        raise GutaxisError(f"{path}: ends in NUL bytes, as a copy cut short by a crash or a full disk does; "
                           "copy or download the file again")


def scan_text(path: Path | bytes, separator: str, *, ragged: bool = False, n_rows: int | None = None,
              quoting: bool = True) -> pl.LazyFrame:
    """Every column as text, plus a 1-based row index; values stay exactly as printed.

    ragged=True drops fields beyond the header's instead of failing: only for a file whose
    row shapes were checked (`checked_rows`), where such rows are quarantined.
    """
    # utf8-lossy: a stray Windows-1252 byte in a description column we never use must not sink
    # the whole file; in a column we use, the U+FFFD it becomes quarantines the row (diary_rules).
    # glob=False: the path is one file already (a folder named "Study [2024]" is not a pattern).
    return pl.scan_csv(path, separator=separator, infer_schema=False, encoding="utf8-lossy", glob=False,
                       quote_char=QUOTE if quoting else None,
                       row_index_name=ROW_INDEX, row_index_offset=1, truncate_ragged_lines=ragged, n_rows=n_rows)


@dataclass(frozen=True)
class TextFile:
    """A delimited text file opened for a reader: its scan (all text) and header."""
    path: Path  # the file, as messages name it
    separator: str
    frame: pl.LazyFrame
    columns: list[str]  # the header as polars names it (a repeated name gets a suffix)
    source: Path | bytes  # what the parsers read: the file, or (lone CRs) its text with LF line ends
    line_ends: LineEnds


@dataclass(frozen=True)
class Records:
    """A reader's rows of one file, and how many data rows the file holds, counted apart from the
    CSV parser (its lines, less the header and blank lines; records by Python's csv module when
    quoted fields span lines; a Parquet file's own row count): what the run's row accounting
    checks the rows published, quarantined and excluded against."""
    frame: pl.LazyFrame
    rows: int


def open_text(path: Path, delimiter: str | None) -> TextFile:
    refuse_non_utf8_text(path)
    separator = text_separator(path, delimiter)
    ends = line_ends(path)
    source = _lf_text(path) if ends.lone_cr else path
    frame = scan_text(source, separator)
    columns = [c for c in frame.collect_schema().names() if c != ROW_INDEX]
    return TextFile(path, separator, frame, columns, source, ends)


def checked_rows(text: TextFile, used: Iterable[str]) -> Records:
    """The file's rows for a reader's select: a repeated used column refused, blank lines skipped, malformed rows marked."""
    used = list(dict.fromkeys(used))
    _refuse_repeated_columns(text, used)
    shapes = _row_shapes(text, used)
    if shapes is None:
        return Records(text.frame, _refuse_extra_fields(text))
    skip, problems, cut, quoting = shapes
    rows = max(text.line_ends.lines - 1, 0) - len(skip)  # less the header line and blank lines
    # A last row cut inside a quoted field would fail the CSV parser: it reads the rows before
    # it, and the cut row itself is passed on as a malformed row (its values unread).
    frame = scan_text(text.source, text.separator, ragged=True, n_rows=None if cut is None else cut - 1, quoting=quoting)
    if not quoting:  # a TSV read without quoting (see _row_shapes): a used value written "x" is x
        frame = frame.with_columns(_unwrapped(column) for column in used if column in text.columns)
    if cut is not None:
        frame = pl.concat([frame, pl.LazyFrame({ROW_INDEX: [cut]}, schema={ROW_INDEX: frame.collect_schema()[ROW_INDEX]})],
                          how="diagonal")
    if skip:
        frame = frame.filter(~pl.col(ROW_INDEX).is_in(skip))
    if problems.height:
        marked = problems["row"]
        frame = frame.with_columns(
            pl.col(ROW_INDEX).replace_strict(marked, problems["problem"], default=None, return_dtype=pl.String).alias(ROW_PROBLEM),
            pl.col(ROW_INDEX).replace_strict(marked, problems["text"], default=None, return_dtype=pl.String).alias(ROW_TEXT),
        )
    return Records(frame, rows)


def _refuse_repeated_columns(text: TextFile, used: list[str]) -> None:
    header = next(csv.reader([_first_line(text.path)], delimiter=text.separator), [])
    for column in used:
        if header.count(column) > 1:
            raise GutaxisError(f"{text.path}: column {column!r} appears {header.count(column)} times in the header; "
                               "rename or remove the repeated column so that the name picks one column")


def _has_quote(path: Path) -> bool:
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(QUOTE.encode()) != -1


def _refuse_extra_fields(text: TextFile) -> int:
    """Refuse a row with a value beyond the header's fields in a file whose quoted fields span lines;
    return the number of data records (blank lines are none).

    Its lines are not rows, so the line-by-line pass cannot judge them, and a CSV parser reading
    only the used columns drops such a value without a word. Python's csv module reads records
    across lines; empty fields beyond the header's are accepted, as in the line-by-line pass.
    """
    width = len(text.columns)
    handle = (io.TextIOWrapper(io.BytesIO(text.source), encoding="utf-8-sig", errors="replace", newline="")
              if isinstance(text.source, bytes) else open(text.path, encoding="utf-8-sig", errors="replace", newline=""))
    with handle:
        records = csv.reader(handle, delimiter=text.separator)
        next(records, None)
        count = 0
        for row, fields in enumerate(records, start=1):
            count += bool(fields)
            if len(fields) > width and any(field.strip() for field in fields[width:]):
                raise GutaxisError(f"{text.path}: row {row} has {len(fields)} fields, more than the header's {width} "
                                   "(a stray delimiter or an unquoted value?); fix that row")
    return count


def _unwrapped(column: str) -> pl.Expr:
    value = pl.col(column)
    return (pl.when(value.str.contains(f"^{QUOTE}.*{QUOTE}$"))
            .then(value.str.slice(1, value.str.len_chars() - 2).str.replace_all(QUOTE * 2, QUOTE, literal=True))
            .otherwise(value).alias(column))


def _row_shapes(text: TextFile, used: list[str], quoting: bool = True) -> tuple[list[int], pl.DataFrame, int | None, bool] | None:
    """(data rows to skip as blank, malformed rows: row, problem, text, a last row cut inside quotes,
    whether quotes quote); None when lines are not rows.

    A tab-separated file whose unclosed quotes all sit in columns the reader does not use (a
    description such as `5" pizza`) is read without quoting, as TSV is usually written: tabs
    separate, quotes are text. Any other unclosed quote refuses the file, naming line and column.

    One streaming pass over the lines keeps only the few that need a look (a field count other
    than the header's, a copy of the header, an unbalanced quote, a line short enough to be
    blank); those are judged here. Fields are counted outside quotes: the regex that drops quoted
    runs (a quoted "" is two runs) is the costly part, so it runs only when the file has a quote.
    """
    sep = text.separator
    expected = len(text.columns)
    header = _first_line(text.path)
    if header.count(QUOTE) % 2 or len(next(csv.reader([header], delimiter=sep), [])) != expected:
        return None
    quoted = quoting and _has_quote(text.path)
    # One column holding each whole line (lossy UTF-8, line end dropped): a separator byte no
    # text file uses, no quoting.
    lines = pl.scan_csv(text.source, has_header=False, separator="\x1f" if sep != "\x1f" else "\x1e",
                        quote_char=None, schema={"line": pl.String}, encoding="utf8-lossy",
                        empty_string_is_null=False, truncate_ragged_lines=True, row_index_name="row", glob=False)
    line = pl.col("line")
    unquoted = line.str.replace_all(f"{QUOTE}[^{QUOTE}]*{QUOTE}", "") if quoted else line
    found_plan = (
        lines.with_columns(fields=unquoted.str.count_matches(sep, literal=True).cast(pl.Int64) + 1)
        .with_columns(
            repeats_header=line.is_in([header, "\ufeff" + header]),
            open_quote=unquoted.str.contains(QUOTE, literal=True) if quoted else pl.lit(False),
            # at most a few bytes besides delimiters: maybe blank (judged below, on these few lines)
            maybe_blank=line.str.len_bytes().cast(pl.Int64) - (pl.col("fields") - 1) <= 4,
        )
        .filter((pl.col("row") > 0) & ((pl.col("fields") != expected) | pl.col("repeats_header")
                                       | pl.col("open_quote") | pl.col("maybe_blank")))
    )
    found, count = pl.collect_all([found_plan, lines.select(pl.len())], engine="streaming")
    last_row = count.item() - 1
    opened = found.filter("open_quote")["row"]
    names = next(csv.reader([header], delimiter=sep), [])
    if opened.len() and sep == "\t" and QUOTE not in header:
        columns = {_open_quote_column(line, sep, names) for line in found.filter("open_quote")["line"]}
        if all(c and c not in used for c in columns):
            return _row_shapes(text, used, quoting=False)
    cut = None
    if opened.to_list() == [last_row] and last_row > 0:
        # The only open quote is on the last line: a copy cut short inside a quoted field.
        cut = found.filter(pl.col("row") == last_row).row(0, named=True)
        before = re.sub(f"{QUOTE}[^{QUOTE}]*{QUOTE}", "", cut["line"]).split(QUOTE)[0]
        problem = (f"row ends inside a quoted field ({before.count(sep) + 1} of {expected} fields): "
                   "the file looks cut short")
        found = found.filter(pl.col("row") != last_row)
        opened = opened.filter(opened != last_row)
        cut = (last_row, problem, cut["line"][:ROW_TEXT_MAX])
    if opened.len() % 2:
        # Quotes pair up across lines only when a field holds a line break; an odd count means
        # one never closes, and a CSV parser would swallow every row after it into one field.
        line = found.filter(pl.col("row") == opened[-1])["line"][0]
        column = _open_quote_column(line, sep, names)
        column = f", in column {column!r}" if column else ""
        raise GutaxisError(f"{text.path}: line {opened[-1] + 1} has a quote ({QUOTE}) that opens a field and never closes"
                           f"{column}; fix the quoting (a quote inside a quoted field is written twice: {QUOTE}{QUOTE})")
    if opened.len():
        return None
    found = found.with_columns(
        # nothing but blanks and delimiters: a blank line, or ",,,," as spreadsheets export empty rows
        blank=pl.col("line").str.replace_all(sep, "", literal=True).str.strip_chars() == "",
        # "1,2,3,4," under a 4-column header: an empty field beyond the header's loses nothing
        filled=((pl.col("line").str.replace_all(f"{QUOTE}[^{QUOTE}]*{QUOTE}", "x") if quoted else pl.col("line"))
                .str.strip_chars_end(sep + " \t")
                .str.count_matches(sep, literal=True) + 1),
    )
    skip = found.filter("blank")["row"].cast(pl.Int64).to_list()
    problems = found.filter(~pl.col("blank") & (pl.col("repeats_header") | (pl.col("fields") < expected)
                                                | (pl.col("filled") > expected))).select(
        pl.col("row").cast(pl.Int64),
        pl.when("repeats_header").then(pl.lit("row repeats the header line (files joined with their headers?); remove it"))
        .otherwise(pl.format("row has {} fields, header has {}", "fields", pl.lit(expected))).alias("problem"),
        pl.col("line").str.slice(0, ROW_TEXT_MAX).alias("text"),
    )
    if cut is not None:
        problems = pl.concat([problems, pl.DataFrame({"row": [cut[0]], "problem": [cut[1]], "text": [cut[2]]},
                                                     schema=problems.schema)])
    return skip, problems, None if cut is None else cut[0], quoting


def _open_quote_column(line: str, separator: str, header: list[str]) -> str:
    """The column of the first field of a line whose quoting is broken ('' if none or past the header)."""
    field = _broken_quote_field(line, separator)
    return header[field] if field is not None and field < len(header) else ""


def _broken_quote_field(line: str, separator: str) -> int | None:
    """The index of the first field whose quotes do not quote it: a quote that opens the field and never
    closes, one that closes before more text of the field, or a quote inside an unquoted field."""
    field, i, n = 0, 0, len(line)
    while True:
        if line.startswith(QUOTE, i):
            j = i + 1
            while True:
                k = line.find(QUOTE, j)
                if k < 0:
                    return field  # opens and never closes
                if line.startswith(QUOTE * 2, k):  # a quote written twice inside the quotes
                    j = k + 2
                    continue
                break
            i = k + 1
            if i < n and line[i] != separator:
                return field
        else:
            end = line.find(separator, i)
            end = n if end < 0 else end
            if QUOTE in line[i:end]:
                return field
            i = end
        if i >= n:
            return None
        field, i = field + 1, i + 1


def case_variants(column: str, available: Iterable[str]) -> list[str]:
    return [c for c in available if c.lower() == column.lower() and c != column]


def missing_column_error(path: Path, column: str, available: Iterable[str], fix: str,
                         alternative: str | None = None) -> GutaxisError:
    available = list(available)
    variants = case_variants(column, available) + (case_variants(alternative, available) if alternative else [])
    named = f"{column!r} (or {alternative!r})" if alternative else repr(column)
    hint = ""
    if variants:
        listed = ", ".join(repr(v) for v in variants)
        hint = f" (the file has {listed}, which differs only by case: column names are matched case-sensitively)"
    padded = [c for c in available if c != c.strip() and c.strip() in (column, alternative)]
    if padded:
        hint += (f" (the file has {', '.join(repr(c) for c in padded)}: spaces around a name are part of it; "
                 "remove them from the header)")
    header = [c for c in available if c not in (ROW_INDEX, ROW_PROBLEM, ROW_TEXT)]
    if len(header) == 1:
        # One column whose name holds separators: the file was split on the wrong delimiter.
        found = [c for c in _SNIFF_CANDIDATES if c in header[0]]
        if found:
            return GutaxisError(f"{path}: column {named} is missing: the header reads as one column, "
                                f"delimited by {found[0]!r} it seems; set 'delimiter' in the cohort spec: "
                                f"delimiter: {_SPEC_DELIMITER[found[0]]}")
    if any("\ufffd" in c for c in header):
        hint += " (the header has bytes that are not UTF-8, so names with accents cannot match: save the file as UTF-8)"
    if not variants and not padded:
        close = closest_columns(column, header) or (closest_columns(alternative, header) if alternative else [])
        if close:
            hint += f" (closest columns in the file: {', '.join(repr(c) for c in close)})"
    return GutaxisError(f"{path}: column {named} is missing{hint}; {fix}")


def closest_columns(column: str, header: list[str], limit: int = 3) -> list[str]:
    """The header's names nearest to a wanted one (a typo, a prefix, another spelling), best first."""
    from rapidfuzz import fuzz, process, utils

    # WRatio weighs partial and token matches: FoodAmt ~ FoodAmount, DR1IFDCD ~ DR1_IFDCD, Day ~ DAYNO
    found = process.extract(column, header, scorer=fuzz.WRatio, processor=utils.default_process, limit=limit,
                            score_cutoff=70)
    # the near misses only: a clear best match is not diluted by names that merely share a letter run
    return [name for name, score, _index in found if score >= found[0][1] - 15]


def base_columns(path: Path) -> list[pl.Expr]:
    return [pl.lit(path.name, dtype=pl.String).alias("source_file"),
            pl.col(ROW_INDEX).cast(pl.Int64).alias("source_row")]


def row_shape_columns(frame: pl.LazyFrame) -> list[pl.Expr]:
    """row_problem and row_text, when the row-shape pass marked rows of the file (see `checked_rows`)."""
    if ROW_PROBLEM not in frame.collect_schema().names():
        return []
    return [pl.col(ROW_PROBLEM).alias("row_problem"), pl.col(ROW_TEXT).alias("row_text")]


def omega3_total(parts: list[str], *, numeric: bool) -> pl.Expr:
    """ALA + EPA + DPA + DHA for one item; null unless all four are present.

    For text files the sum is returned as text, so the row rules still see the raw value: when
    a part is printed but is not a number, that part's raw text is passed on (and quarantined
    as "reported value is not a number", or read as missing when it is a token like NA).
    """
    name = f"{REPORTED_PREFIX}omega3_total"
    if numeric:
        return _null_propagating_sum([pl.col(p).cast(pl.Float64) for p in parts]).alias(name)
    parsed = [pl.col(p).str.strip_chars().cast(pl.Float64, strict=False) for p in parts]
    unparsed = [pl.col(p).is_not_null() & v.is_null() for p, v in zip(parts, parsed)]
    first_unparsed = pl.coalesce([pl.when(bad).then(pl.col(p)) for p, bad in zip(parts, unparsed)])
    return (pl.when(pl.any_horizontal(unparsed)).then(first_unparsed)
            .otherwise(_null_propagating_sum(parsed).cast(pl.String)).alias(name))


def _null_propagating_sum(values: list[pl.Expr]) -> pl.Expr:
    total = values[0]
    for value in values[1:]:
        total = total + value  # unlike sum_horizontal, `+` keeps null when a part is missing
    return total


def _usable_type(dtype: pl.DataType) -> bool:
    """Types a diary value can arrive in: numbers, or text the row rules parse (and quarantine when it is not one)."""
    return (dtype.is_numeric() or dtype in (pl.String, pl.Null)
            or isinstance(dtype, (pl.Categorical, pl.Enum)))


def refuse_unusable_types(path: Path, schema: pl.Schema, wanted: dict[str, str], key: dict[str, str]) -> None:
    """A column whose type can hold no number or id (date, boolean, list, binary) is a mapping or export error."""
    for canonical, column in wanted.items():
        dtype = schema[column]
        if not _usable_type(dtype):
            raise GutaxisError(f"{path}: column {column!r} ({key[canonical]}) has type {dtype}, which holds no "
                               f"{'id' if canonical == 'participant_id' else 'number'}; write it as numbers or text, "
                               f"or fix {key[canonical]} in the cohort spec to name the right column")


def read_file(path: Path, spec: CohortSpec) -> pl.LazyFrame:
    """One CSV/TSV/Parquet file as the raw diary frame; Parquet keeps its native types and is scanned lazily."""
    return open_file(path, spec).frame


def open_file(path: Path, spec: CohortSpec) -> Records:
    """read_file's frame, and the number of data rows the file holds (`Records`)."""
    wanted = dict(spec.columns)
    wanted.update({f"{REPORTED_PREFIX}{cid}": col for cid, col in spec.reported.items()})
    records = open_mapped(path, spec, wanted)
    frame = records.frame
    status = pl.col(spec.columns["recall_status"]) if "recall_status" in spec.columns else pl.lit(None, dtype=pl.String)
    return Records(frame.select(
        *base_columns(path),
        *(pl.col(spec.columns[c]).alias(c) for c in ("participant_id", "recall_day", "food_code", "grams")),
        status.alias("recall_status"),
        pl.lit(None, dtype=pl.Null).alias("external_id"),  # Null dtype: this format has no external id
        *row_shape_columns(frame),
        *(pl.col(col).alias(f"{REPORTED_PREFIX}{cid}") for cid, col in spec.reported.items()),
    ), records.rows)


def open_mapped(path: Path, spec: CohortSpec, wanted: dict[str, str]) -> Records:
    """A CSV, TSV or Parquet file read through a spec's maps (wanted: canonical name -> the file's
    column; reported__<id> for the `reported` map, the rest from `columns`): every mapped column
    present and of a usable type, malformed text rows marked; and the data rows the file holds."""
    key = {canonical: f"reported.{canonical.removeprefix(REPORTED_PREFIX)}" if canonical.startswith(REPORTED_PREFIX)
           else f"columns.{canonical}" for canonical in wanted}
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    if parquet:
        frame = pl.scan_parquet(path, row_index_name=ROW_INDEX, row_index_offset=1, glob=False)
        available = frame.collect_schema().names()
    else:
        text = open_text(path, spec.delimiter)
        available = text.columns
    require_columns(path, available, ((column, f"fix {key[canonical]} in the cohort spec to name a column of the file")
                                      for canonical, column in wanted.items()))
    if parquet:
        refuse_unusable_types(path, frame.collect_schema(), wanted, key)
        return Records(frame, parquet_rows(path))
    return checked_rows(text, wanted.values())


def require_columns(path: Path, available: list[str], required: Iterable[tuple[str, str]]) -> None:
    """The first of the required (column, what to do when it is missing) that the file lacks, refused in one line."""
    for column, fix in required:
        if column not in available:
            raise missing_column_error(path, column, available, fix)


def parquet_rows(path: Path) -> int:
    """The row count a Parquet file's footer states."""
    return pl.scan_parquet(path, glob=False).select(pl.len()).collect().item()


def concat_raw(frames: list[pl.LazyFrame]) -> pl.LazyFrame:
    """Files of one cohort stacked in order; a reported column absent from one file is null there."""
    if len(frames) == 1:
        return frames[0]
    schemas = [frame.collect_schema() for frame in frames]
    dtypes: dict[str, set[pl.DataType]] = {}
    for schema in schemas:
        for name, dtype in schema.items():
            dtypes.setdefault(name, set()).add(dtype)
    # Floats of different widths widen to Float64, and integers that fit Int64 to Int64, losing
    # nothing. Any other mix (text and numbers, integers and floats, which would round ids past
    # 2^53, or UInt64 and signed) is read as text in every file: the rules parse it.
    as_text = {name for name, kinds in dtypes.items() if len(kinds) > 1 and not _widens_exactly(kinds)}
    frames = [frame.with_columns(pl.col(c).cast(pl.String) for c in as_text if c in schema)
              for frame, schema in zip(frames, schemas)]
    return pl.concat(frames, how="diagonal_relaxed")


def _widens_exactly(kinds: set[pl.DataType]) -> bool:
    return all(k.is_float() for k in kinds) or all(k.is_integer() and k not in (pl.UInt64, pl.Int128) for k in kinds)


def read(spec: CohortSpec) -> pl.LazyFrame:
    return concat_raw([read_file(p, spec) for p in spec.data_files()])
