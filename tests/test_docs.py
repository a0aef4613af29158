"""What analysts read in the catalogue: a comment with its unit on every column they query."""
from __future__ import annotations

import duckdb

from gutaxis import warehouse
from gutaxis.components import registry


def _comments(conn, schema: str, table: str) -> dict[str, str | None]:
    return dict(conn.execute("SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = ? AND table_name = ?",
                             [schema, table]).fetchall())


def test_every_column_of_the_wide_view_has_a_comment_with_its_unit():
    conn = duckdb.connect(":memory:")
    warehouse.ensure_schema(conn)
    comments = _comments(conn, "marts", "participant_exposure_wide")
    units = dict(registry().select("component_id", "unit").rows())
    assert set(comments) == {"cohort", "participant_id", "n_days", *units}
    assert all(comments.values()), [c for c, text in comments.items() if not text]
    for component, unit in units.items():
        assert f" {unit}/day " in comments[component], (component, comments[component])
    # rebuilt with every publish (CREATE OR REPLACE drops comments): they come back
    warehouse.refresh_views(conn)
    assert all(_comments(conn, "marts", "participant_exposure_wide").values())


def test_food_contributions_says_what_amount_sums_over_and_its_unit():
    conn = duckdb.connect(":memory:")
    warehouse.ensure_schema(conn)
    amount = _comments(conn, "marts", "food_contributions")["amount"]
    assert "reference.components.unit" in amount and "every participant and recall day" in amount
    assert "Not per participant or per day" in amount


def test_make_check_runs_the_unit_tests_and_leaves_pipeline_and_realdata_tests_to_make_test():
    import re
    import subprocess
    import sys

    from gutaxis import PROJECT_ROOT

    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^check: .*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe and '-m "not slow and not realdata"' in recipe.group(1)
    # a test that asks for a warehouse of its own is slow, marked or not
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not slow and not realdata",
                           "-p", "no:cacheprovider", "tests/test_run_summary.py"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert sorted(name.split("::")[1] for name in collected) == [
        "test_a_source_is_verified_only_when_every_file_matches_the_official_sha256",
        "test_gutaxis_sources_says_fetched_verified_or_not_and_the_version",
        "test_the_coverage_line_counts_full_and_empty_components_and_lists_the_partial_ones",
        "test_warned_rows_are_listed_at_most_five_with_the_full_count"], done.stdout
