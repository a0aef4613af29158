"""The `gutaxis` command: run, cohort add | list | check, fetch, sources, sql, report, ui."""
from __future__ import annotations

import argparse
import gc
import os
import sys
import textwrap
from pathlib import Path

from gutaxis import PROJECT_ROOT, GutaxisError

FORMATS = ("asa24-items", "nhanes-iff", "tabular", "nhanes-tot", "asa24-totals", "tabular-totals")  # gutaxis.specs.DIARY_FORMATS, not imported: it costs 0.6 s


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        print(f"gutaxis: error: {message} (see `gutaxis --help`)", file=sys.stderr)
        raise SystemExit(2)


def _dagster_env() -> None:
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    os.environ.setdefault("GUTAXIS_DAGSTER_DIR", str(PROJECT_ROOT / ".dagster"))
    Path(os.environ["GUTAXIS_DAGSTER_DIR"]).mkdir(parents=True, exist_ok=True)


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.definitions import defs  # noqa: F401 - loaded before the freeze below
    from pipelines.runner import NOT_RUN, run_cohorts
    from gutaxis.interrupts import Interrupted

    if _as_command:
        gc.freeze()  # what the imports built lives to the end: no collection needs to walk it again

    if not args.cohort:
        _retire_synthetic()
    try:
        reports, errors = run_cohorts(args.cohort or None, replace=args.replace)
    except Interrupted as stop:
        # nothing more runs: Dagster executes in this process, and the run's own threads end with it
        published = f" beyond the cohorts published before the signal: {', '.join(stop.published)}" if stop.published else ""
        print(f"gutaxis: interrupted; published data is unchanged{published}", file=sys.stderr)
        return stop.exit_code
    from gutaxis.report import format_report, format_table

    for line in errors:
        print(f"gutaxis: {line}", file=sys.stderr)
    try:
        for rep in reports:
            print(format_report(rep))
        if reports:
            print()
            print(format_table(reports))
        sys.stdout.flush()
    except BrokenPipeError:
        return _output_closed(errors)
    return 2 if any(NOT_RUN in line for line in errors) else 1 if errors else 0


def _output_closed(errors: list[str]) -> int:
    """The reader of the summary went away (`gutaxis run | head`): the run itself has finished."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's exit flush must not fail on the closed pipe again
    print("gutaxis: output closed before the summary was complete (broken pipe); the run itself finished "
          f"({'with errors above' if errors else 'every cohort published'}): see `gutaxis cohort list`", file=sys.stderr)
    return 141  # 128 + SIGPIPE, as a command killed by the closed pipe


def cmd_cohort_check(args: argparse.Namespace) -> int:
    from pipelines.runner import check_cohort
    from gutaxis.report import format_report
    from gutaxis.specs import resolve_cohort

    resolve_cohort(args.cohort)  # a spec that cannot be used stops the command: exit 2, as `run` does
    try:
        rep = check_cohort(args.cohort)
    except GutaxisError as exc:
        # a data file that cannot be used fails the check as it fails `gutaxis run`: exit 1, not 2
        print(f"gutaxis: error: {exc}", file=sys.stderr)
        return 1
    print(format_report(rep))
    return 1 if rep.checks_failed else 0


def cmd_cohort_add(args: argparse.Namespace) -> int:
    from gutaxis.specs import add_cohort, load_cohort_spec

    path = add_cohort(args.name, args.format, args.path, args.composition, args.map or [], force=args.force,
                      options=_tabular_options(args))
    shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
    print(f"registered cohort {args.name}: {shown} (path: {load_cohort_spec(path).path})")
    _retire_synthetic()
    return 0


def _tabular_options(args: argparse.Namespace) -> dict[str, object]:
    """`cohort add`'s --delimiter and --valid-recall-status as spec fields."""
    options: dict[str, object] = {}
    given = [flag for flag, value in (("--delimiter", args.delimiter), ("--valid-recall-status", args.valid_recall_status),
                                      ("--map", args.map)) if value]
    if given and args.format != "tabular":
        raise GutaxisError(f"{given[0]} is a tabular option; --format {args.format} fixes its own columns")
    if args.delimiter is not None:
        options["delimiter"] = {"tab": "\t", "\\t": "\t"}.get(args.delimiter.lower(), args.delimiter)
    if args.valid_recall_status is not None:
        codes = [c.strip() for c in args.valid_recall_status.split(",") if c.strip()]
        if not codes or not all(c.lstrip("-").isdigit() for c in codes):
            raise GutaxisError(f"--valid-recall-status {args.valid_recall_status!r}: give whole-number codes, e.g. 1 or 1,2")
        options["valid_recall_status"] = [int(c) for c in codes]
    return options


def _retire_synthetic() -> None:
    """Take the synthetic demo out of the warehouse and the Dagster partitions once a real cohort is
    registered (specs.without_synthetic_beside_real keeps it out of the runs)."""
    from gutaxis.cohorts import synthetic_to_retire, unpublish

    for name in synthetic_to_retire():
        if unpublish(name, "synthetic demo retired: a real cohort is registered"):
            print(f"removed the synthetic cohort {name} from the warehouse: real cohorts are registered "
                  f"(`gutaxis run --cohort {name}` still runs it on purpose)")
        _forget_partition(name)


def _forget_partition(name: str) -> None:
    """Drop the cohort's Dagster partition, so that the daily schedule stops re-running it."""
    import dagster as dg

    from assets.partitions import cohort_partitions

    instance = dg.DagsterInstance.get()
    if name in instance.get_dynamic_partitions(cohort_partitions.name):
        instance.delete_dynamic_partition(cohort_partitions.name, name)


def cmd_cohort_remove(args: argparse.Namespace) -> int:
    from gutaxis.cohorts import remove_cohort

    dropped, spec = remove_cohort(args.name)
    _forget_partition(args.name)
    done = [f"{dropped} published tables dropped" if dropped else "nothing was published"]
    if spec is not None:
        done.append(f"unregistered ({spec.name} deleted)")
    print(f"removed cohort {args.name}: {'; '.join(done)}; its audit trail is kept (audit.runs, audit.quarantine, ...)")
    return 0


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _one_off_spec(name: str) -> tuple[str, str]:
    """(format, spec file) of a cohort published by `run --cohort SPEC`: the spec its latest Dagster
    run names; ("-", "") when the spec file is gone."""
    import dagster as dg

    from assets.partitions import SPEC_TAG
    from gutaxis.specs import load_cohort_spec

    runs = dg.DagsterInstance.get().get_runs(filters=dg.RunsFilter(tags={"dagster/partition": name}), limit=20)
    for run in runs:
        spec_path = run.tags.get(SPEC_TAG)
        if spec_path:
            try:
                return load_cohort_spec(Path(spec_path)).format, spec_path
            except GutaxisError:
                return "-", spec_path
    return "-", ""


def cmd_cohort_list(args: argparse.Namespace) -> int:
    from gutaxis.cohorts import cohort_states

    states = cohort_states()
    for state in states:
        if state.kind == "one-off":
            state.format, state.spec = _one_off_spec(state.name)
    header = ("COHORT", "KIND", "FORMAT", "LAST RUN (UTC)", "OUTCOME", "PARTICIPANTS", "PUBLISHED (UTC)")
    rows = [(s.name, s.kind, s.format, _when(s.last_run), s.outcome if len(s.outcome) <= 60 else s.outcome[:57] + "...",
             "-" if s.participants is None else str(s.participants), _when(s.published)) for s in states]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if not rows:
        print("(no cohorts: register one with `gutaxis cohort add`)")
    for state in states:
        if state.problem:
            print(f"{state.name}: {state.problem}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from gutaxis.fetch import fetch

    files = fetch(args.source, Path(args.from_path) if args.from_path else None)
    for path in files:
        print(f"fetched {path}")
    return 0


SQL_FORMATS = ("table", "csv", "json", "parquet")


def _writes(query: str) -> bool:
    """Whether the query holds a statement other than a read (DELETE on a view fails as a Binder Error,
    not as a read-only one, so the statement types tell, not the message)."""
    import duckdb

    reads = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN, duckdb.StatementType.PRAGMA}
    try:
        return any(statement.type not in reads for statement in duckdb.extract_statements(query))
    except duckdb.Error:
        return False  # not even parsed: a syntax error, not a write


def _query_error(exc: Exception, query: str) -> GutaxisError:
    """DuckDB's own message and its "Did you mean" hint, one line; the read-only note only where the
    query tried to write."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    message = lines[0] if lines else type(exc).__name__
    hint = next((line for line in lines[1:] if line.lower().startswith("did you mean")), None)
    if hint:
        message += f" {hint}"
    if _writes(query):
        message += " (the analysts' warehouse is read-only: `gutaxis run` writes it; export with --out FILE)"
    return GutaxisError(f"query refused: {message}")


def _flat(frame):
    """Nested columns (lists, structs, maps) as JSON text: CSV has no nesting."""
    import polars as pl

    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    if not nested:
        return frame
    return frame.with_columns(pl.col(name).map_elements(lambda v: None if v is None else _json(v), return_dtype=pl.String)
                              for name in nested)


def _json(value) -> str:
    import json

    return json.dumps(value.to_list() if hasattr(value, "to_list") else value, default=str)


def _write(frame, fmt: str, target) -> None:
    """The frame as csv, json (one object per row) or parquet into a file or binary stream."""
    if fmt == "csv":
        _flat(frame).write_csv(target)
    elif fmt == "json":
        frame.write_json(target)
    else:
        frame.write_parquet(target)


def cmd_sources(args: argparse.Namespace) -> int:
    from gutaxis.source_status import all_statuses, format_statuses

    print(format_statuses(all_statuses()))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb
    import polars as pl

    from gutaxis.warehouse import open_reader

    fmt = "csv" if args.csv else args.format
    out = Path(args.out) if args.out else None
    if out is not None:
        fmt = out.suffix.lower().lstrip(".")
        if fmt not in SQL_FORMATS[1:]:
            raise GutaxisError(f"--out {args.out}: give a file ending .csv, .json or .parquet")
    elif fmt == "parquet" and sys.stdout.isatty():
        raise GutaxisError("--format parquet writes binary: redirect it (> FILE.parquet) or use --out FILE.parquet")
    with open_reader() as conn:
        try:
            relation = conn.sql(args.query)
            frame = relation.pl() if relation is not None else None
        except duckdb.Error as exc:
            raise _query_error(exc, args.query) from None
    if frame is None:
        return 0
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        _write(frame, fmt, out)
        print(f"wrote {frame.height} rows x {frame.width} columns to {out}")
        return 0
    if fmt != "table":
        sys.stdout.flush()
        _write(frame, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return 0
    rows = frame.height if args.max_rows < 0 else min(frame.height, args.max_rows)
    with pl.Config(tbl_rows=rows, tbl_cols=-1, fmt_str_lengths=10_000, fmt_table_cell_list_len=-1, tbl_width_chars=65_535,
                   tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True, tbl_formatting="ASCII_MARKDOWN",
                   float_precision=None):
        print(frame.head(rows))
    if frame.height == 0:
        print("(0 rows)")
    if rows < frame.height:
        print(f"({frame.height} rows; the first {rows} shown: --max-rows N, or --csv / --out FILE for all)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from gutaxis.analysis.report_html import write_report

    written = write_report(args.cohort, Path(args.out) if args.out else None)
    shown = written.path.relative_to(PROJECT_ROOT) if written.path.resolve().is_relative_to(PROJECT_ROOT) else written.path
    print(f"wrote {shown}: cohort {args.cohort}, {written.plots} plots, {written.size_bytes / 1e6:.1f} MB, self-contained "
          "(open it in any browser, offline)")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from pipelines.ui import serve

    return serve(args.host, args.port, args.extra)


def _cohort_add_parser(cohort) -> None:
    from gutaxis.components import component_ids
    from gutaxis.specs import TABULAR_OPTIONAL, TABULAR_REQUIRED

    add = cohort.add_parser(
        "add", help="register a cohort (writes data/cohorts/NAME.yaml)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Register a cohort: writes data/cohorts/NAME.yaml and checks that it reads. A --path under the "
            "project's data/ folder is stored relative to data/cohorts; any other path is stored absolute, as "
            "typed (symlinks kept), with external_path: true.", 80),
        epilog="--map keys (tabular):\n"
               f"  diary columns (required): {', '.join(TABULAR_REQUIRED)}\n"
               f"  optional: {', '.join(TABULAR_OPTIONAL)} (a recall-status column; see --valid-recall-status)\n"
               + textwrap.fill(f"a reported value per item, by component id: {', '.join(component_ids())}", 80,
                               initial_indent="  ", subsequent_indent="    ") + "\n"
               "example:\n"
               "  gutaxis cohort add study-b --format tabular --path ~/study-b/foods.tsv --delimiter tab \\\n"
               "      --map participant_id=SEQN --map recall_day=Day --map food_code=FoodCode --map grams=FoodAmt \\\n"
               "      --map energy_kcal=KCAL --map fiber=FIBE")
    add.add_argument("name", help="cohort name: lower-case letters, digits, _ and -")
    add.add_argument("--format", required=True, choices=FORMATS, help="diary format: %(choices)s")
    add.add_argument("--path", required=True, help="data file or glob (e.g. 'recalls/*.csv')")
    add.add_argument("--composition", default="fndds-2017-2018",
                     help="the source the food codes refer to (default %(default)s; sr28 for 5-digit SR codes)")
    tabular = add.add_argument_group("tabular options")
    tabular.add_argument("--map", action="append", metavar="KEY=COLUMN",
                         help="a file column for a diary column or a reported component (repeatable; keys below)")
    tabular.add_argument("--delimiter", metavar="CHAR",
                         help="field separator: one character, or tab (default: tab for .tsv, comma for .csv, else guessed "
                              "from the header; Parquet needs none)")
    tabular.add_argument("--valid-recall-status", metavar="CODES",
                         help="comma-separated recall_status codes that mean usable (default 1); needs --map recall_status=COLUMN")
    add.add_argument("--force", action="store_true", help="overwrite an existing spec")
    add.set_defaults(func=cmd_cohort_add)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gutaxis", description="Gut-brain exposures from food composition and diet diaries.")
    parser.add_argument("--warehouse", help="DuckDB warehouse file (default data/warehouse.duckdb or $GUTAXIS_WAREHOUSE)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="materialize every registered cohort (or the given ones) and print a summary")
    run.add_argument("--cohort", action="append", metavar="NAME_OR_SPEC", help="a registered name or a spec file (repeatable)")
    run.add_argument("--replace", action="store_true",
                     help="let a spec file replace the published rows of the registered cohort with its name")
    run.add_argument("--warehouse", dest="warehouse_sub", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

    cohort = sub.add_parser("cohort", help="register, list, check and remove cohorts").add_subparsers(
        dest="cohort_command", required=True, parser_class=_Parser)
    _cohort_add_parser(cohort)
    cohort.add_parser("list", help="every cohort: registered, synthetic, or published by a one-off run; with its last run, "
                                   "outcome, participants and publish time").set_defaults(func=cmd_cohort_list)
    check = cohort.add_parser("check", help="ingest and audit without publishing")
    check.add_argument("cohort", metavar="NAME_OR_SPEC")
    check.add_argument("--warehouse", dest="warehouse_sub", help=argparse.SUPPRESS)
    check.set_defaults(func=cmd_cohort_check)
    remove = cohort.add_parser("remove", help="unpublish a cohort (its tables leave the warehouse, its audit trail stays) "
                                              "and unregister it (deletes data/cohorts/NAME.yaml)")
    remove.add_argument("name")
    remove.add_argument("--warehouse", dest="warehouse_sub", help=argparse.SUPPRESS)
    remove.set_defaults(func=cmd_cohort_remove)

    fetch = sub.add_parser("fetch", help="download (or copy with --from) an official dataset into data/raw")
    fetch.add_argument("source")
    fetch.add_argument("--from", dest="from_path", metavar="PATH", help="a local copy: the file, a folder, or the official zip")
    fetch.set_defaults(func=cmd_fetch)

    sources = sub.add_parser("sources", help="status of every source in data/sources/: fetched or not, verified or not, version")
    sources.set_defaults(func=cmd_sources)

    sql = sub.add_parser("sql", help="run a read-only SQL query on the published warehouse",
                         description="Run a read-only SQL query on the analysts' warehouse (the published snapshot). "
                                     "Prints a table, or CSV / JSON / Parquet on stdout, or writes --out FILE.")
    sql.add_argument("query")
    shape = sql.add_mutually_exclusive_group()
    shape.add_argument("--csv", action="store_true", help="print CSV instead of a table (nested columns as JSON text)")
    shape.add_argument("--format", choices=SQL_FORMATS, default="table",
                       help="table (default), csv, json (one object per row) or parquet (binary: redirect it)")
    shape.add_argument("--out", metavar="FILE", help="write every row to FILE.csv, FILE.json or FILE.parquet (by the suffix)")
    sql.add_argument("--max-rows", type=int, default=50, help="rows a table shows (default 50; -1 for all)")
    sql.set_defaults(func=cmd_sql)

    report = sub.add_parser("report", help="write a cohort's self-contained HTML report from the published warehouse",
                            description="Write one self-contained HTML file (plots as inline SVG; no network needed to "
                                        "read it) from the published warehouse, read-only: the inclusion flow, coverage, "
                                        "per component the one-day and usual-intake distributions and top food sources, "
                                        "population estimates, a forest plot of the associations, methods and provenance.")
    report.add_argument("cohort", help="a published cohort's name")
    report.add_argument("--out", metavar="FILE.html",
                        help="where to write it (default data/reports/COHORT.html, beside the warehouse)")
    report.set_defaults(func=cmd_report)

    ui = sub.add_parser("ui", help="start the Dagster web UI and daemon on this project (dagster dev)",
                        description="Starts `dagster dev` on this project: the Dagster web UI (http://127.0.0.1:3000 "
                                    "unless --host/--port say otherwise) and the daemon that runs the daily schedule and "
                                    "the cohort sensor (new or changed specs in data/cohorts run by themselves while it "
                                    "is up). Ctrl-C or SIGTERM stops it and every process it started.")
    ui.add_argument("--host", help="address the web UI listens on (dagster dev's default: 127.0.0.1)")
    ui.add_argument("--port", type=int, help="port of the web UI (dagster dev's default: 3000)")
    ui.add_argument("extra", nargs=argparse.REMAINDER, help="further `dagster dev` options")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warehouse = getattr(args, "warehouse_sub", None) or args.warehouse
    if warehouse:
        os.environ["GUTAXIS_WAREHOUSE"] = str(Path(warehouse).resolve())
    _dagster_env()
    try:
        return args.func(args)
    except GutaxisError as exc:
        print(f"gutaxis: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gutaxis: interrupted; published data is unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second failure at exit
        print("gutaxis: output closed before everything was written (broken pipe)", file=sys.stderr)
        return 141
    except Exception as exc:  # a bug, not bad input: still one line, and say where to look
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"gutaxis: internal error: {type(exc).__name__}: {first} (set GUTAXIS_DEBUG=1 for the traceback)", file=sys.stderr)
        if os.environ.get("GUTAXIS_DEBUG"):
            raise
        return 3


_as_command = False  # set by entry(): this process ends when main() returns


def entry() -> None:
    """The `gutaxis` console script."""
    global _as_command
    _as_command = True
    # Importing Dagster and GX builds ~half a million objects, and the default threshold (a young
    # collection every 700 allocations) walks them again and again: ~0.9 s of every run. The data
    # lives in polars and DuckDB, outside the collector: peak memory measured the same at 1 M and
    # 100 M rows.
    gc.set_threshold(100_000, 50, 100)
    code = main()
    # Python's exit collects every object still alive (Dagster's, GX's: half a million) before the
    # OS frees them all anyway; that was 1-2 s of every run. Frozen objects are not collected.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
