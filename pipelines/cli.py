"""The `gutaxis` command: run, cohort add | list | check, fetch, ui."""
from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from gutaxis import PROJECT_ROOT, GutaxisError

FORMATS = ("asa24-items", "nhanes-iff", "tabular", "nhanes-tot", "tabular-totals")


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
    from pipelines.runner import run_cohorts

    if _as_command:
        gc.freeze()  # what the imports built lives to the end: no collection needs to walk it again

    reports, errors = run_cohorts(args.cohort or None)
    from gutaxis.report import format_report, format_table

    for rep in reports:
        print(format_report(rep))
    if reports:
        print()
        print(format_table(reports))
    for line in errors:
        print(f"gutaxis: {line}", file=sys.stderr)
    return 1 if errors else 0


def cmd_cohort_check(args: argparse.Namespace) -> int:
    from pipelines.runner import check_cohort
    from gutaxis.report import format_report

    rep = check_cohort(args.cohort)
    print(format_report(rep))
    return 1 if rep.checks_failed else 0


def cmd_cohort_add(args: argparse.Namespace) -> int:
    from gutaxis.specs import add_cohort

    path = add_cohort(args.name, args.format, Path(args.path), args.composition, args.map or [], force=args.force)
    print(f"registered cohort {args.name}: {path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path}")
    return 0


def cmd_cohort_list(args: argparse.Namespace) -> int:
    from gutaxis.specs import cohorts_dir, load_cohort_spec

    for spec_path in sorted(cohorts_dir().glob("*.yaml")):
        try:
            spec = load_cohort_spec(spec_path)
            print(f"{spec.name}\t{spec.format}\t{spec.composition}\t{spec.path}")
        except GutaxisError as exc:
            print(f"{spec_path.stem}\tINVALID\t{exc}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from gutaxis.fetch import fetch

    files = fetch(args.source, Path(args.from_path) if args.from_path else None)
    for path in files:
        print(f"fetched {path}")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from gutaxis.warehouse import open_reader

    with open_reader() as conn:
        try:
            relation = conn.sql(args.query)
            frame = relation.pl() if relation is not None else None
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise GutaxisError(f"query refused: {first} (the analysts' warehouse is read-only)") from None
    if frame is None:
        return 0
    if args.csv:
        sys.stdout.write(frame.write_csv())
    else:
        import polars as pl

        with pl.Config(tbl_rows=args.max_rows, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200):
            print(frame)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    dagster = Path(sys.executable).parent / "dagster"
    os.chdir(PROJECT_ROOT)
    os.execv(str(dagster), [str(dagster), "dev", "-m", "pipelines.definitions", *args.extra])


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gutaxis", description="Gut-brain exposures from food composition and diet diaries.")
    parser.add_argument("--warehouse", help="DuckDB warehouse file (default data/warehouse.duckdb or $GUTAXIS_WAREHOUSE)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="materialize every registered cohort (or the given ones) and print a summary")
    run.add_argument("--cohort", action="append", metavar="NAME_OR_SPEC", help="a registered name or a spec file (repeatable)")
    run.add_argument("--warehouse", dest="warehouse_sub", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

    cohort = sub.add_parser("cohort", help="register, list and check cohorts").add_subparsers(dest="cohort_command", required=True, parser_class=_Parser)
    add = cohort.add_parser("add", help="register a cohort (writes data/cohorts/NAME.yaml)")
    add.add_argument("name")
    add.add_argument("--format", required=True, choices=FORMATS)
    add.add_argument("--path", required=True, help="data file or glob")
    add.add_argument("--composition", default="fndds-2017-2018")
    add.add_argument("--map", action="append", metavar="KEY=COLUMN",
                     help="tabular: participant_id=, recall_day=, food_code=, grams= or a component id for a reported value")
    add.add_argument("--force", action="store_true", help="overwrite an existing spec")
    add.set_defaults(func=cmd_cohort_add)
    cohort.add_parser("list", help="registered cohorts").set_defaults(func=cmd_cohort_list)
    check = cohort.add_parser("check", help="ingest and audit without publishing")
    check.add_argument("cohort", metavar="NAME_OR_SPEC")
    check.add_argument("--warehouse", dest="warehouse_sub", help=argparse.SUPPRESS)
    check.set_defaults(func=cmd_cohort_check)

    fetch = sub.add_parser("fetch", help="download (or copy with --from) an official dataset into data/raw")
    fetch.add_argument("source")
    fetch.add_argument("--from", dest="from_path", metavar="PATH", help="a local copy: the file, a folder, or the official zip")
    fetch.set_defaults(func=cmd_fetch)

    sql = sub.add_parser("sql", help="run a read-only SQL query on the published warehouse")
    sql.add_argument("query")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    sql.add_argument("--max-rows", type=int, default=50)
    sql.set_defaults(func=cmd_sql)

    ui = sub.add_parser("ui", help="dagster dev on this project (web UI + daemon for schedules and sensors)")
    ui.add_argument("extra", nargs=argparse.REMAINDER)
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
