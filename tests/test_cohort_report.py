"""The per-cohort HTML report: what it shows, that it reads offline in a real browser (headless Chromium,
network off), that every plot is there, and that it only reads the published warehouse."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from html import escape
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from gutaxis import DATA_DIR, PROJECT_ROOT, GutaxisError
from gutaxis.analysis import report_plots
from gutaxis.analysis.report_html import write_report
from pipelines.cli import main
from tests.conftest import _isolate, write_spec

ARTIFACTS = PROJECT_ROOT / "test-artifacts"  # ignored by git: screenshots to look at after a run
CONSOLE = re.compile(r":CONSOLE[:(]")  # Chromium's stderr line for every console message of the page


# --- the plots on their own (fast) ---------------------------------------------------------------

def _ids_and_references(svg: str) -> tuple[list[str], set[str]]:
    return re.findall(r'\bid="([^"]+)"', svg), set(re.findall(r'(?:url\(#|href="#)([^")]+)', svg))


def test_two_plots_on_one_page_share_no_id_and_every_reference_resolves_inside_its_own_plot():
    days = np.linspace(1, 30, 50)
    plots = [report_plots.distribution_plot(name, name, "g per 1000 kcal", days, np.zeros(50, bool), None, "why", 0.0)
             for name in ("dist-a", "dist-b")]
    ids = [i for svg in plots for i in _ids_and_references(svg)[0]]
    assert len(ids) == len(set(ids)) and ids
    for name, svg in zip(("dist-a", "dist-b"), plots):
        own_ids, references = _ids_and_references(svg)
        assert references <= set(own_ids) and all(i.startswith(f"{name}-") for i in own_ids)
        assert svg.startswith("<svg ") and "<?xml" not in svg and "DOCTYPE" not in svg


def test_the_distribution_plot_says_why_usual_intake_is_missing_and_marks_low_coverage():
    values = np.array([1.0, 2.0, 2.5, 3.0, 8.0, 9.0])
    low = np.array([False, False, False, False, True, True])
    svg = report_plots.distribution_plot("dist-x", "X", "g per 1000 kcal", values, low, None,
                                         "the cohort spec declares no `usual_intake`", 0.25)
    assert "usual intake not estimated: the cohort spec declares no `usual_intake`" in svg
    assert "low coverage: 25% of participants" in svg
    assert report_plots.LOW_COVERAGE in svg  # the low-coverage participants' days, stacked in orange
    without_low = report_plots.distribution_plot("dist-y", "Y", "g per 1000 kcal", values, np.zeros(6, bool), None, "x", 0.0)
    assert report_plots.LOW_COVERAGE not in without_low and "low coverage" not in without_low


def test_usual_percentiles_are_drawn_beside_the_one_day_ones():
    values = np.random.default_rng(1).gamma(4.0, 2.0, 400)
    usual = report_plots.Percentiles({0.05: 5.0, 0.25: 6.5, 0.5: 7.6, 0.75: 8.9, 0.95: 11.0}, 7.8)
    svg = report_plots.distribution_plot("dist-u", "U", "mg per 1000 kcal", values, np.zeros(400, bool), usual, "", 0.0)
    assert "usual intake not estimated" not in svg
    assert svg.count(report_plots.USUAL) >= 2  # the P5-P95 line and the P25-P75 box


def test_the_forest_plot_puts_odds_ratios_on_a_log_axis_around_one():
    rows = [report_plots.ForestRow("h · Q2 vs Q1", np.log(1.5), np.log(0.9), np.log(2.5)),
            report_plots.ForestRow("h · Q3 vs Q1", np.log(0.7), np.log(0.5), np.log(0.98))]
    svg = report_plots.forest_plot("forest-logistic", "associations", rows, True, "odds ratio")
    assert "h · Q2 vs Q1" in svg and "h · Q3 vs Q1" in svg and "odds ratio" in svg
    # a log axis labelled as odds ratios (0.5, 1, 2), not as powers of ten
    labels = re.findall(r"<text[^>]*>([^<]+)</text>", svg)
    assert {"0.5", "1", "2"} <= set(labels) and "mathdefault" not in svg
    linear = report_plots.forest_plot("forest-linear", "associations", rows, False, "difference")
    assert "1" not in re.findall(r"<text[^>]*>([^<]+)</text>", linear)


# --- a published cohort, read by the report (the pipeline runs once for the module) ------------

DEMO = DATA_DIR / "demo"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The demo cohort with an excluded recall, a participant of mostly unlinked foods (low coverage) and
    the demo's attributes, outcomes and hypothesis, run through `gutaxis run` into a warehouse of its own."""
    root = tmp_path_factory.mktemp("report")
    saved = {k: os.environ.get(k) for k in ("GUTAXIS_WAREHOUSE", "GUTAXIS_RAW_DIR", "GUTAXIS_DAGSTER_DIR", "DAGSTER_HOME")}
    _isolate(root, lambda k, v: os.environ.__setitem__(k, v))
    data = root / "data"
    shutil.copytree(DEMO, data)
    diary = pl.read_csv(data / "diary.csv", infer_schema=False)
    extra = pl.DataFrame({"participant": ["demo-024"] * 2, "day": ["1", "2"], "food_code": ["88888888"] * 2,
                          "grams": ["2500", "2600"]})
    diary = pl.concat([diary, extra]).with_columns(
        status=pl.when((pl.col("participant") == "demo-023") & (pl.col("day") == "2")).then(pl.lit("5")).otherwise(pl.lit("1")))
    diary.write_csv(data / "diary.csv")
    demo_spec = __import__("yaml").safe_load((DATA_DIR / "cohorts" / "demo.yaml").read_text(encoding="utf-8"))
    for table in demo_spec["participants"] + demo_spec["outcomes"]:
        table["path"] = str(data / Path(table["path"]).name)
    spec = write_spec(root, "reported", format="tabular", path=str(data / "diary.csv"), composition="demo",
                      columns={**demo_spec["columns"], "recall_status": "status"}, valid_recall_status=[1],
                      participants=demo_spec["participants"], outcomes=demo_spec["outcomes"], analyses=demo_spec["analyses"])
    # the shipped oxytocin-tryptophan hypothesis names the demo cohort: this cohort gets its own copy
    spec_data = __import__("yaml").safe_load(spec.read_text(encoding="utf-8"))
    spec_data["analyses"].append({"id": "tryptophan-oxytocin-here", "kind": "association",
                                  "exposure": {"component": "tryptophan", "scale": "per_1000kcal", "groups": "tertiles"},
                                  "outcome": "oxytocin", "model": "linear", "covariates": ["age_years", "sex"]})
    spec.write_text(__import__("yaml").safe_dump(spec_data, sort_keys=False), encoding="utf-8")
    try:
        import contextlib
        import io

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert main(["run", "--cohort", str(spec)]) == 0
        (root / "run-summary.txt").write_text(printed.getvalue(), encoding="utf-8")
        yield root
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed here (apt-get install chromium); CI installs it")
    return found


def _browse(page: Path, profile: Path, *, screenshot: Path | None = None) -> tuple[str, list[str]]:
    """Open the page in headless Chromium with the network off: (the DOM it built, its console lines)."""
    args = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
            "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing leaves the machine
            "--enable-logging=stderr", "--v=0"]
    args += [f"--screenshot={screenshot}", "--window-size=1280,5000"] if screenshot else ["--dump-dom"]
    done = subprocess.run([*args, page.as_uri()], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if CONSOLE.search(line)]


def _expected_plots(warehouse: Path, cohort: str) -> int:
    """A distribution plot per component with a day value, the coverage plot, a forest plot per model kind."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        components = conn.execute("SELECT count(DISTINCT component_id) FROM marts.participant_day_exposure "
                                  "WHERE cohort = ? AND amount IS NOT NULL", [cohort]).fetchall()[0][0]
        models = conn.execute("SELECT count(DISTINCT model) FROM marts.association_estimates WHERE cohort = ? "
                              "AND status = 'estimated' AND estimate IS NOT NULL", [cohort]).fetchall()[0][0]
    return components + 1 + models


def _plots(dom: str) -> list[str]:
    return re.findall(r'<svg\b[^>]*class="plot".*?</svg>', dom, flags=re.S)


def _assert_complete(dom: str, expected: int) -> None:
    plots = _plots(dom)
    assert len(plots) == expected
    for svg in plots:  # drawn: paths with real geometry and text labels, a size
        paths = re.findall(r'<path\b[^>]*\bd="([^"]{20,})"', svg)
        assert len(paths) >= 3 and "<text" in svg, svg[:300]
        width = float(re.search(r'width="([\d.]+)pt"', svg).group(1))
        assert width > 100


@pytest.mark.slow
def test_the_report_renders_offline_in_chromium_with_every_plot_and_no_console_message(published, tmp_path):
    page = published / "reports" / "reported.html"
    assert page.is_file()  # written by the run's cohort_report asset, beside the warehouse
    dom, console = _browse(page, tmp_path / "profile")
    assert console == []
    _assert_complete(dom, _expected_plots(published / "warehouse.duckdb", "reported"))
    # nothing to fetch: no script, and every link stays inside the page
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert all(ref.startswith("#") for ref in re.findall(r'\b(?:src|href)="([^"]*)"', html))


@pytest.mark.slow
def test_the_console_check_catches_what_it_guards_against(tmp_path):
    # the negative control: a page that fetches from the network is blocked by the report's policy and says so
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
                    '</head><body><img src="http://example.invalid/x.png"></body></html>', encoding="utf-8")
    _, console = _browse(page, tmp_path / "profile")
    assert console and "Content Security Policy" in console[0]


@pytest.mark.slow
def test_a_copy_in_another_folder_opens_the_same_and_a_screenshot_is_kept(published, tmp_path):
    elsewhere = tmp_path / "shared with a colleague" / "cohort report.html"
    elsewhere.parent.mkdir()
    shutil.copyfile(published / "reports" / "reported.html", elsewhere)
    dom, console = _browse(elsewhere, tmp_path / "profile")
    assert console == []
    _assert_complete(dom, _expected_plots(published / "warehouse.duckdb", "reported"))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "cohort_report.png"
    shot.unlink(missing_ok=True)
    _browse(elsewhere, tmp_path / "profile-shot", screenshot=shot)
    from PIL import Image

    with Image.open(shot) as image:
        colours = image.convert("RGB").resize((320, 1250)).getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 50  # text, bars and plots, not a blank page


@pytest.mark.slow
def test_the_report_shows_the_flow_coverage_food_sources_estimates_and_provenance(published, tmp_path):
    html = write_report("reported", tmp_path / "r.html", published / "warehouse.duckdb").path.read_text(encoding="utf-8")
    with duckdb.connect(str(published / "warehouse.duckdb"), read_only=True) as conn:
        run_id, code_version, sha = conn.execute(
            "SELECT run_id, code_version, json_extract_string(input_sha256, '$.\"diary.csv\"') FROM audit.runs "
            "WHERE cohort = 'reported' AND outcome = 'published'").fetchall()[0]
        top_tryptophan = conn.execute("SELECT description FROM marts.food_contributions WHERE cohort = 'reported' AND "
                                      "component_id = 'tryptophan' ORDER BY amount DESC LIMIT 1").fetchall()[0][0]
    # the inclusion flow: the excluded recall and why, the quarantined rows and why, the unlinked food
    assert "why recalls were excluded" in html and "recall status 5 is not usable (valid: 1)" in html
    assert "grams must be &gt; 0" in html and "88888888" in html
    # low coverage marked: demo-024 ate mostly unlinked food
    assert "low coverage" in html and "of participants low" in html
    # food sources, estimates with CIs, the forest plot, provenance
    assert top_tryptophan in html and "top 10 food sources" in html
    assert "demo-oxytocin-by-method" in html and "ci_low" in html
    assert 'data-plot="forest-linear"' in html
    assert run_id in html and code_version in html and sha in html and "synthetic-1" in html
    # no usual intake declared: every plot says so, and why
    assert "usual intake not estimated" in html
    # the diet-quality indices: each index of the run, computed with its totals or not computable and why
    with duckdb.connect(str(published / "warehouse.duckdb"), read_only=True) as conn:
        statuses = conn.execute("SELECT index_id, status FROM audit.index_status WHERE run_id = ?", [run_id]).fetchall()
    assert statuses and 'id="indices"' in html
    for index_id, status in statuses:
        assert f"<td>{index_id}</td><td>{escape(status)}</td>" in html


@pytest.mark.slow
def test_the_report_reads_the_warehouse_without_changing_it_and_refuses_an_unpublished_cohort(published, tmp_path):
    warehouse = published / "warehouse.duckdb"
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    write_report("reported", tmp_path / "again.html", warehouse)
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
    with pytest.raises(GutaxisError, match=r"cohort 'nobody' is not published in this warehouse \(published: reported\)"):
        write_report("nobody", tmp_path / "n.html", warehouse)


@pytest.mark.slow
def test_gutaxis_report_writes_the_file_and_names_it_or_fails_in_one_line(published, tmp_path, capsys):
    out = tmp_path / "sub" / "reported.html"
    assert main(["report", "reported", "--out", str(out)]) == 0
    assert out.is_file() and f"wrote {out}" in capsys.readouterr().out
    assert main(["report", "nobody"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not published" in err and "gutaxis run --cohort nobody" in err
    assert main(["report", "reported", "--out", str(tmp_path / "report.pdf")]) == 2
    assert "give a file ending .html" in capsys.readouterr().err


@pytest.mark.slow
def test_the_run_summary_names_the_report_and_dagster_links_it(published):
    import dagster as dg

    summary = (published / "run-summary.txt").read_text(encoding="utf-8")
    assert f"  report: {published / 'reports' / 'reported.html'}" in summary.splitlines()

    instance = dg.DagsterInstance.get()
    event = instance.get_latest_materialization_event(dg.AssetKey("cohort_report"))
    metadata = event.asset_materialization.metadata
    assert Path(metadata["path"].value) == (published / "reports" / "reported.html").resolve()
    assert metadata["url"].value.startswith("file://") and metadata["plots"].value >= 3


@pytest.mark.slow
def test_the_plotted_days_from_the_wide_store_tables_equal_those_of_the_contract_views(published, monkeypatch):
    """_days reads the sampled days' amounts and the participants' low-coverage flags from the cohort's wide
    store tables: the same rows as the join of the contract views it replaced (which built a long row per
    participant and component first), low-coverage flags included, whole and hash-sampled."""
    import duckdb

    from gutaxis.analysis import report_html

    conn = duckdb.connect(str(published / "warehouse.duckdb"), read_only=True)
    n_days = conn.execute("SELECT count(*) FROM marts.participant_day_exposure WHERE cohort = 'reported' "
                          "AND component_id = 'energy_kcal'").fetchall()[0][0]
    keys = ["component_id", "amount", "energy", "low"]
    for limit in (report_html.MAX_PLOTTED_DAYS, n_days // 2):
        monkeypatch.setattr(report_html, "MAX_PLOTTED_DAYS", limit)
        assert report_html._wide_days_sql(conn, "reported") is not None
        wide, sampled = report_html._days(conn, "reported", n_days)
        with monkeypatch.context() as views_only:
            views_only.setattr(report_html, "_wide_days_sql", lambda *_: None)
            through_views, sampled_views = report_html._days(conn, "reported", n_days)
        assert wide.height and wide["low"].any()  # demo-024's days are drawn as low coverage
        assert sampled == sampled_views and (sampled > 0) == (limit < n_days)
        assert wide.sort(keys).equals(through_views.sort(keys))
