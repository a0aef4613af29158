"""End-to-end benchmark: `gutaxis run` on a generated N-row tabular diary against a bare polars floor.

    .venv/bin/python bench/run_bench.py [--rows N] [--out DIR] [--keep]

1. Generates (or reuses, cached by rows and seed) a Parquet diary of N rows with real FNDDS
   2017-2018 food codes, grouped by participant and day (~15 items a day, 2 days a participant).
2. Sets up an isolated workspace (warehouse, raw dir with FNDDS fetched by the CLI, Dagster dir)
   and a tabular cohort spec.
3. Runs the floor (bench/floor.py) and then `gutaxis run --cohort SPEC`, each in its own process,
   sampling the process tree's RSS and CPU every ~50 ms; the pipeline's stage lines on stderr
   split its run into stages.
4. Compares a random sample of participants' mean_daily (six components) between the published
   marts.participant_exposure and the floor: relative difference <= 1e-9, else exit 1.
5. Prints wall time, CPU time and peak RSS per stage, the ratio to the floor and whether the
   targets (<= 3 x floor wall, <= 6 GB peak) are met; writes the same as JSON into --out.

Memory figures are RSS summed over the process tree (GB = 10^9 bytes); the whole-run peak is
also cross-checked against the kernel's own high-water mark (wait4 ru_maxrss).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(BENCH_DIR))

from gutaxis.formats.fndds import read_table  # noqa: E402

from analysis_inputs import spec_keys as analysis_spec_keys, write_inputs as write_analysis_inputs  # noqa: E402

REALDATA = PROJECT_ROOT.parent / "shared" / "realdata"
FNDDS_XLSX = REALDATA / "usda" / "fndds-2017-2018" / "2017-2018 FNDDS At A Glance - FNDDS Nutrient Values.xlsx"
# --all-components: the sources that derive the mechanism components for FNDDS foods (amino acids,
# flavonoids, curated prebiotics), as the real-data tests fetch them
MECHANISM_SOURCES = {
    "sr28": REALDATA / "usda" / "sr28",
    "fda-fdd-3.1": REALDATA / "fda-fdd" / "FDA_FDD_All_Records_v_3.1.xlsx",
    "usda-flavonoid-r3.3": REALDATA / "usda" / "flavonoid-r3.3",
    "fndds-ingredients-2017-2018": REALDATA / "usda" / "fndds-2017-2018" / "FNDDS_ingredients_2017_2018_SSB_subset.csv",
}
SOURCE_ID = "fndds-2017-2018"
COHORT = "bench"
COMPONENTS = ("energy_kcal", "fiber", "choline", "omega3_ala", "omega3_epa", "omega3_dha")
STAGE_LINE = re.compile(r"^gutaxis: stage (?P<stage>\S+): cohort (?P<cohort>\S+) run (?P<run>\S+)")

GENERATOR_VERSION = 1  # bump when the generated data changes, so cached files are not reused
CHUNK_ROWS = 4_000_000  # rows generated at a time (fixed: the data depend on it)
ROW_GROUP_ROWS = 1_000_000
ITEMS_PER_DAY = 15
FIRST_PARTICIPANT = 1_000_001
ZIPF_EXPONENT = 1.1  # food popularity: a few foods are very common
PORTION_KCAL = 150.0

TARGET_RATIO = 3.0
TARGET_PEAK_BYTES = 6e9
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-7  # 200 items a day, each rounded to 10^-9 of its unit (compare_means)
# Stages of the exposure pipeline (analysis_stage_names takes the others after the exposures' audit).
EXPOSURES_AUDIT_STAGE = "audit-exposures"
NOT_ANALYSIS_STAGES = {"publish", "report + exit"}
TARGET_ALL_COMPONENTS_RATIO = 2.5  # issue 15: all components <= 2.5 x the fair floor at 100 M items
TARGET_ANALYSIS_SHARE = 0.25  # issue 13: the analysis stages add at most 25 % to end to end
SAMPLE_INTERVAL_S = 0.05
TREE_RESCAN_S = 0.5
GB = 1e9
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Data: composition and the generated diary


def fndds_composition() -> pl.DataFrame:
    """FNDDS food_code (Int64) and the six components per 100 g, read by the project's reader."""
    comp = read_table(FNDDS_XLSX, SOURCE_ID)
    wide = (comp.food_components.filter(pl.col("component_id").is_in(COMPONENTS))
            .pivot(on="component_id", index="food_code", values="amount_per_100g", aggregate_function="first"))
    return wide.select(pl.col("food_code").cast(pl.Int64), *COMPONENTS).sort("food_code")


def diary_path(out_dir: Path, rows: int, seed: int, grams_decimals: int = 1) -> Path:
    precision = "" if grams_decimals == 1 else f"-g{grams_decimals}"
    return out_dir / f"diary-{rows}-seed{seed}{precision}-v{GENERATOR_VERSION}.parquet"


def diary_chunks(rows: int, seed: int, codes: np.ndarray, kcal_per_100g: np.ndarray, grams_decimals: int = 1):
    """Yield the diary in chunks: rows ordered by participant and day, ~15 items a day, 2 days each."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, codes.size + 1) ** ZIPF_EXPONENT
    order = rng.permutation(codes.size)  # which foods are common is part of the seed
    ranked_codes = codes[order]
    # A typical portion is ~150 kcal of the food (oil ~17 g, bread ~60 g, milk ~250 g), 5-400 g for
    # the typical; water and other energy-free foods get 400 g. Days then land near 2,000 kcal.
    typical_grams = np.clip(PORTION_KCAL / np.maximum(kcal_per_100g[order], 1e-9) * 100.0, 5.0, 400.0)
    cumulative = np.cumsum(popularity) / popularity.sum()
    next_day = 0  # global participant-day index: participant = day // 2, recall_day = day % 2 + 1
    done = 0
    while done < rows:
        n = min(CHUNK_ROWS, rows - done)
        # items per day: 1 + Poisson(14), so a day is never empty and the mean is 15
        counts = 1 + rng.poisson(ITEMS_PER_DAY - 1, size=int(n / ITEMS_PER_DAY * 1.2) + 16)
        while counts.sum() < n:  # practically never: 20 % more days than needed were drawn
            counts = np.concatenate([counts, 1 + rng.poisson(ITEMS_PER_DAY - 1, size=16)])
        ends = np.cumsum(counts)
        last = int(np.searchsorted(ends, n))  # first day whose end reaches n
        counts = counts[: last + 1]
        counts[-1] -= int(ends[last]) - n
        days = np.repeat(np.arange(next_day, next_day + counts.size, dtype=np.int64), counts)
        next_day += counts.size
        picks = np.minimum(np.searchsorted(cumulative, rng.random(n)), codes.size - 1)
        grams = np.clip(np.round(typical_grams[picks] * rng.lognormal(mean=0.0, sigma=0.6, size=n), grams_decimals),
                        1.0, 1500.0)
        yield pl.DataFrame({
            "participant_id": pl.Series(FIRST_PARTICIPANT + days // 2, dtype=pl.Int64),
            "recall_day": pl.Series(days % 2 + 1, dtype=pl.Int32),
            "food_code": pl.Series(ranked_codes[picks], dtype=pl.Int64),
            "grams": pl.Series(grams, dtype=pl.Float64),
        })
        done += n


def generate_diary(path: Path, rows: int, seed: int, codes: np.ndarray, kcal_per_100g: np.ndarray,
                   grams_decimals: int = 1) -> dict:
    """Write the diary chunk by chunk (row groups of ROW_GROUP_ROWS) to path, atomically."""
    started = time.monotonic()
    partial = path.with_suffix(".partial")
    writer = None
    try:
        for chunk in diary_chunks(rows, seed, codes, kcal_per_100g, grams_decimals):
            table = chunk.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
    finally:
        if writer is not None:
            writer.close()
    partial.rename(path)
    return {"generated": True, "seconds": time.monotonic() - started}


# ---------------------------------------------------------------------------------------------
# Measuring a process tree


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user+system) of a live process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "; comm may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat:
                parents[int(entry.name)] = stat[0]
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


def _busy_jiffies() -> int:
    """CPU time of the whole machine (all processes) so far, in clock ticks."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal


def wait_until_idle(max_wait_s: float, window_s: float = 2.0, threshold_cores: float = 0.15) -> float:
    """Wait (up to max_wait_s) until the machine stays nearly idle for three windows; returns seconds waited."""
    started, quiet = time.monotonic(), 0
    while quiet < 3 and time.monotonic() - started < max_wait_s:
        before = _busy_jiffies()
        time.sleep(window_s)
        busy_cores = (_busy_jiffies() - before) / CLOCK_TICKS / window_s
        quiet = quiet + 1 if busy_cores < threshold_cores else 0
    return time.monotonic() - started


def _free_bytes(path: Path | None) -> int:
    if path is None:
        return 0
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


class TreeMonitor(threading.Thread):
    """Samples (time, RSS summed over the tree, CPU seconds of the tree) every SAMPLE_INTERVAL_S."""

    def __init__(self, root: int, limit_bytes: float | None = None, disk_path: Path | None = None):
        super().__init__(daemon=True)
        self.root = root
        # the free space of the filesystem the run writes to: its largest drop is the run's peak disk use
        self.disk_path = disk_path
        self.disk_free_start = _free_bytes(disk_path)
        self.disk_free_min = self.disk_free_start
        self.limit_bytes = limit_bytes
        self.limit_hit: tuple[float, int] | None = None  # (monotonic, RSS) when the tree was killed
        self.samples: list[tuple[float, int, float]] = []
        self.cpu_by_pid: dict[int, float] = {}  # last seen, so exited children still count
        self.stopping = threading.Event()
        self.machine_busy_start = _busy_jiffies()
        self.machine_busy_s = 0.0

    def run(self) -> None:
        tree, rescanned = {self.root}, 0.0
        while not self.stopping.is_set():
            now = time.monotonic()
            if now - rescanned > TREE_RESCAN_S:
                tree, rescanned = _descendants(self.root), now
            rss = 0
            for pid in list(tree):
                stat = _proc_stat(pid)
                if stat is None:
                    tree.discard(pid)
                    continue
                self.cpu_by_pid[pid] = stat[1]
                rss += _rss_bytes(pid)
            self.samples.append((now, rss, sum(self.cpu_by_pid.values())))
            if self.disk_path is not None:
                self.disk_free_min = min(self.disk_free_min, _free_bytes(self.disk_path))
            if self.limit_bytes and rss > self.limit_bytes and self.limit_hit is None:
                # Protect the (shared) machine from the OOM killer: stop the run we started, whole group.
                self.limit_hit = (now, rss)
                try:
                    os.killpg(self.root, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.stopping.wait(SAMPLE_INTERVAL_S)

    def stop(self) -> None:
        self.stopping.set()
        self.join()
        self.machine_busy_s = (_busy_jiffies() - self.machine_busy_start) / CLOCK_TICKS

    def window(self, start: float, end: float) -> tuple[int, float]:
        """(peak RSS, CPU seconds) between two monotonic times."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        before = [s for s in self.samples if s[0] < start]
        after = [s for s in self.samples if s[0] > end]
        peak = max((s[1] for s in inside), default=0)
        if not inside:  # a stage shorter than one sample: take the nearest samples
            peak = max([s[1] for s in before[-1:] + after[:1]], default=0)
        cpu_start = before[-1][2] if before else 0.0
        cpu_end = inside[-1][2] if inside else cpu_start
        return peak, max(cpu_end - cpu_start, 0.0)


@dataclass
class Measured:
    command: list[str]
    returncode: int
    started: float  # monotonic
    started_epoch: float
    finished: float
    wall_s: float
    peak_rss_bytes: int  # max of the sampled tree RSS and the kernel's ru_maxrss
    sampled_peak_bytes: int
    kernel_maxrss_bytes: int
    cpu_s: float
    other_cpu_s: float  # CPU used by processes outside the tree meanwhile (noise on a shared machine)
    stdout: str
    killed_at_rss_bytes: int | None  # set when the memory guard killed the run
    stderr_lines: list[tuple[float, float, str]] = field(default_factory=list)  # (monotonic, epoch, line)
    monitor: TreeMonitor | None = None


def run_measured(command: list[str], env: dict, echo_prefix: str, limit_bytes: float | None,
                 disk_path: Path | None = None) -> Measured:
    """Run a command, echo its stderr live with elapsed seconds, sample its tree until it exits.

    The command gets its own process group, killed whole if the tree's RSS passes limit_bytes.
    """
    started_epoch, started = time.time(), time.monotonic()
    proc = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1, start_new_session=True)
    monitor = TreeMonitor(proc.pid, limit_bytes, disk_path)
    monitor.start()
    stderr_lines: list[tuple[float, float, str]] = []
    stdout_parts: list[str] = []

    def read_stderr() -> None:
        for line in proc.stderr:
            now = time.monotonic()
            stderr_lines.append((now, started_epoch + (now - started), line.rstrip("\n")))
            print(f"  {echo_prefix} {now - started:8.2f}s | {line.rstrip()}", file=sys.stderr, flush=True)

    readers = [threading.Thread(target=read_stderr, daemon=True),
               threading.Thread(target=lambda: stdout_parts.append(proc.stdout.read()), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGKILL)
        os.wait4(proc.pid, 0)
        raise
    finished = time.monotonic()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    monitor.stop()
    for reader in readers:
        reader.join()
    kernel_peak = usage.ru_maxrss * 1024
    sampled_peak = max((s[1] for s in monitor.samples), default=0)
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(command=command, returncode=proc.returncode, started=started, started_epoch=started_epoch,
                    finished=finished,
                    wall_s=finished - started, peak_rss_bytes=max(kernel_peak, sampled_peak),
                    sampled_peak_bytes=sampled_peak, kernel_maxrss_bytes=kernel_peak, cpu_s=cpu,
                    other_cpu_s=max(monitor.machine_busy_s - cpu, 0.0), stdout="".join(stdout_parts),
                    killed_at_rss_bytes=monitor.limit_hit[1] if monitor.limit_hit else None,
                    stderr_lines=stderr_lines, monitor=monitor)


# ---------------------------------------------------------------------------------------------
# Workspace, floor, pipeline


def make_workspace(out_dir: Path, diary: Path, all_components: bool = False,
                   analysis_inputs: tuple[Path, Path] | None = None,
                   hypotheses: int | None = None, shards: str | None = None) -> tuple[Path, dict, Path, Path, float]:
    """A fresh warehouse, raw dir (FNDDS fetched through the CLI) and Dagster dir; returns (root, env,
    spec, the per-food table of the fair floor, seconds the preparation took).

    The composition is loaded into the warehouse beforehand, by a run of the demo cohort: like
    the floor, whose per-100 g table is extracted from the xlsx before it is timed, the measured
    run starts from its reference data in place, as every run after a source's first does.
    all_components: also fetch the mechanism sources, so that the measured run computes all
    sixteen components, not the seven FNDDS gives directly (their one-off derivation is part of
    that preparatory run). The per-food table the pipeline will use (composition.food_components of
    the FNDDS foods) is then extracted for the floor, as the pipeline finds it in the warehouse.
    analysis_inputs: (participants, PHQ) files: the spec then declares them, a design and analyses.
    """
    root = Path(tempfile.mkdtemp(prefix="work-", dir=out_dir))
    env = dict(os.environ)
    env.update(GUTAXIS_WAREHOUSE=str(root / "warehouse.duckdb"), GUTAXIS_RAW_DIR=str(root / "raw"),
               GUTAXIS_DAGSTER_DIR=str(root / "dagster"), DAGSTER_HOME=str(PROJECT_ROOT))
    env.pop("GUTAXIS_DEBUG", None)
    env["GUTAXIS_LAKE"] = str(root / "lake")  # a sharded run's Parquet, removed with the workspace
    env.pop("GUTAXIS_LAKE_OPTIONS", None)
    (root / "dagster").mkdir()
    commands = [["fetch", SOURCE_ID, "--from", str(FNDDS_XLSX)]]
    if all_components:
        commands += [["fetch", source, "--from", str(path)] for source, path in MECHANISM_SOURCES.items()]
    commands.append(["run", "--cohort", "demo"])  # loads (and derives) the composition once, outside the measurement
    started = time.monotonic()
    for command in commands:
        done = subprocess.run([str(gutaxis_command()), *command], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"bench: `gutaxis {' '.join(command[:2])}` failed:\n{done.stderr}")
    per_food = root / "per-food.parquet"
    per_food_table(Path(env["GUTAXIS_WAREHOUSE"])).write_parquet(per_food)
    spec = root / "bench.yaml"
    columns = {c: c for c in ("participant_id", "recall_day", "food_code", "grams")}
    body = {"name": COHORT, "format": "tabular", "path": str(diary.resolve()), "composition": SOURCE_ID,
            "columns": columns}
    if shards is not None:
        body["shards"] = shards if shards == "auto" else int(shards)
    if not analysis_inputs:
        body["indices"] = []  # no analysis: no diet index either (each scores every participant-day in memory)
    if analysis_inputs:
        body.update(analysis_spec_keys(*analysis_inputs, per_food_components(per_food), hypotheses))
    spec.write_text(json.dumps(body, indent=2) + "\n")  # JSON is YAML
    return root, env, spec, per_food, time.monotonic() - started


def per_food_table(warehouse: Path) -> pl.DataFrame:
    """food_code (Int64) and a column per component (amount per 100 g) of the FNDDS foods, as
    composition.food_components holds them: every component the pipeline computes for the bench diary
    (it has no reported values), whatever the route (analytical, disaggregated, literature, matched)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        long = conn.sql(
            "SELECT CAST(food_code AS BIGINT) AS food_code, component_id, amount_per_100g "
            "FROM composition.food_components WHERE source = $1 AND amount_per_100g IS NOT NULL",
            params=[SOURCE_ID]).pl()
    duplicated = long.group_by("food_code", "component_id").len().filter(pl.col("len") > 1)
    if duplicated.height:
        raise SystemExit(f"bench: composition.food_components has {duplicated.height} (food, component) pairs twice "
                         f"for {SOURCE_ID}; the floor needs one value per pair")
    components = sorted(long["component_id"].unique().to_list())
    wide = long.pivot(on="component_id", index="food_code", values="amount_per_100g")
    return wide.select("food_code", *components).sort("food_code")


def per_food_components(per_food: Path) -> list[str]:
    return [c for c in pl.read_parquet_schema(per_food) if c != "food_code"]


def gutaxis_command() -> Path:
    return Path(sys.executable).parent / "gutaxis"


def warm_page_cache(path: Path) -> None:
    """Read the diary once so neither contender pays the first read from disk."""
    with open(path, "rb") as handle:
        while handle.read(1 << 24):
            pass


def stage_windows(run: Measured, publish_end_epoch: float | None) -> list[dict]:
    """startup, the stages, and the tail (report and exit), from the stage lines' timestamps; each
    stage says whether it is an analysis stage (analysis_stage_names)."""
    marks = [("startup", run.started)]
    for mono, _epoch, line in run.stderr_lines:
        match = STAGE_LINE.match(line)
        if match:
            marks.append((match["stage"], mono))
    if publish_end_epoch is not None and len(marks) > 1:
        publish_end = run.started + (publish_end_epoch - run.started_epoch)
        if marks[-1][1] <= publish_end <= run.finished:
            marks.append(("report + exit", publish_end))
    marks.append(("end", run.finished))
    analysis = analysis_stage_names([name for name, _ in marks[:-1]])
    rows = []
    for (name, start), (_next, end) in zip(marks, marks[1:]):
        peak, cpu = run.monitor.window(start, end)
        rows.append({"stage": name, "wall_s": end - start, "cpu_s": cpu, "peak_rss_bytes": peak,
                     "analysis": name in analysis})
    return rows


def analysis_stage_names(stages: list[str]) -> set[str]:
    """The analysis stages of a run, in the order its stage lines came: every stage after the exposures'
    audit except publish and the tail. So participants, outcomes, estimates and their checks, and any
    analysis asset added later (usual intake, diet indices) whether it runs before publish or after,
    are timed as analysis without the bench naming them; ingest and exposure stages (per shard or
    not) come before the exposures' audit."""
    if EXPOSURES_AUDIT_STAGE not in stages:
        return set()
    after = stages[stages.index(EXPOSURES_AUDIT_STAGE) + 1:]
    return {name for name in after if name not in NOT_ANALYSIS_STAGES}


def analysis_seconds(stages: list[dict]) -> float:
    return sum(stage["wall_s"] for stage in stages if stage.get("analysis"))


def publish_end(warehouse: Path, run_key: str) -> float | None:
    """Epoch seconds at which publish finished (no stage line marks it).

    audit.runs.finished (naive UTC) is set when the publish transaction is done; a publish that
    then copies a snapshot for analysts ends when the published file was last written.
    """
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute("SELECT finished FROM audit.runs WHERE run_id = ?", [run_key]).fetchall()
    marks = [warehouse.stat().st_ctime]  # the snapshot's rename into place
    if rows and rows[0][0] is not None:
        marks.append(rows[0][0].replace(tzinfo=timezone.utc).timestamp())
    return max(marks)


# ---------------------------------------------------------------------------------------------
# Comparison


def published_means(warehouse: Path, participant_ids: pl.Series, components: list[str]) -> tuple[pl.DataFrame, int]:
    """(participant_id Int64 + a mean_daily column per component, for the given participants; the number of
    participants published), read from marts.participant_exposure."""
    import duckdb

    ids = pl.DataFrame({"participant_id": participant_ids.cast(pl.String)})
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        conn.register("sample_ids", ids)
        published = conn.sql(
            "SELECT participant_id, component_id, mean_daily FROM marts.participant_exposure "
            "WHERE cohort = $1 AND component_id IN (SELECT unnest($2)) "
            "AND participant_id IN (SELECT participant_id FROM sample_ids)", params=[COHORT, components]).pl()
        count = conn.execute(
            "SELECT count(*) FROM marts.participant_exposure WHERE cohort = ? AND component_id = 'energy_kcal'",
            [COHORT]).fetchall()[0][0]
    wide = (published.pivot(on="component_id", index="participant_id", values="mean_daily")
            .with_columns(pl.col("participant_id").cast(pl.Int64)))
    return wide.with_columns(pl.lit(None, pl.Float64).alias(c) for c in components if c not in wide.columns), count


def compare_means(reference: pl.DataFrame, other: pl.DataFrame, other_participants: int, components: list[str]) -> dict:
    """Per participant and component, the reference's mean_daily (the floor's) against another's.

    Equal when |a - b| <= RELATIVE_TOLERANCE x max(|a|, |b|) + ABSOLUTE_TOLERANCE: the pipeline rounds each
    item's amount to 10^-9 of its unit (its fixed-point sums), exact for the FNDDS values (at most 3
    decimals per 100 g) but not for derived ones (amino acids, flavonoids, with many decimals), where a
    day of n items may differ by n x 0.5 x 10^-9; ABSOLUTE_TOLERANCE allows 200 items."""
    both = reference.select("participant_id", *components).join(other, on="participant_id", how="left",
                                                                  suffix="__other")
    differences, worst = [], 0.0
    for c in components:
        a, b = both[c].to_numpy(), both[f"{c}__other"].to_numpy()
        a_null, b_null = both[c].is_null().to_numpy(), both[f"{c}__other"].is_null().to_numpy()
        a, b = np.nan_to_num(a.astype(np.float64), nan=0.0), np.nan_to_num(b.astype(np.float64), nan=0.0)
        scale = np.maximum(np.abs(a), np.abs(b))
        gap = np.abs(a - b)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(scale > 0, gap / scale, 0.0)
        bad = (a_null != b_null) | (gap > RELATIVE_TOLERANCE * scale + ABSOLUTE_TOLERANCE)
        worst = max(worst, float(np.max(np.where(gap > ABSOLUTE_TOLERANCE, rel, 0.0))) if rel.size else 0.0)
        for row in both.filter(pl.Series(bad)).head(5).iter_rows(named=True):
            differences.append(f"participant {row['participant_id']} {c}: floor {row[c]!r} other {row[c + '__other']!r}")
    return {"sampled": both.height, "components": list(components), "max_relative_difference": worst,
            "tolerance": RELATIVE_TOLERANCE, "absolute_tolerance": ABSOLUTE_TOLERANCE, "differences": differences,
            "participants_floor": reference.height, "participants_published": other_participants,
            "ok": not differences and reference.height == other_participants}


def compare_sample(warehouse: Path, floor_result: Path, sample_size: int, seed: int) -> dict:
    """Sampled participants' mean_daily of every floor component: pipeline (published marts) vs floor."""
    floor = pl.read_parquet(floor_result)
    components = [c for c in floor.columns if c != "participant_id"]
    sample = floor.sample(n=min(sample_size, floor.height), seed=seed)
    published, count = published_means(warehouse, sample["participant_id"], components)
    result = compare_means(sample, published, count, components)
    result["participants_floor"] = floor.height
    result["ok"] = not result["differences"] and floor.height == count
    return result


def compare_pandas(floor_result: Path, pandas_result: Path) -> dict:
    """Every participant's means from the pandas script against the floor's."""
    floor, other = pl.read_parquet(floor_result), pl.read_parquet(pandas_result)
    components = [c for c in floor.columns if c != "participant_id"]
    return compare_means(floor, other.with_columns(pl.col("participant_id").cast(pl.Int64)), other.height, components)


# ---------------------------------------------------------------------------------------------
# Report


def format_table(result: dict) -> str:
    pipe, floor, cmp = result["pipeline"], result["floor"], result["comparison"]
    code, targets = result["code"], result["targets"]
    lines = [f"gutaxis benchmark: {result['rows']:,} rows, {floor['participants']:,} participants, "
             f"{mode_label(result)}, {floor['components']} components (floor = the pipeline's), "
             + (f"with analysis ({hypotheses_label(result)}), " if result.get("analysis") else "without analysis, ")
             + (f"shards {result['shards']}, " if result.get("shards") else "")
             + f"seed {result['seed']}; code {code['commit']}"
             + (f" + {len(code['uncommitted'])} uncommitted files" if code["uncommitted"] else ""),
             f"{'stage':<22}{'wall s':>9}{'cpu s':>9}{'cores':>7}{'peak RSS GB':>13}"]

    def row(name: str, wall: float, cpu: float, peak: int) -> str:
        cores = cpu / wall if wall > 0 else 0.0
        return f"{name:<22}{wall:>9.2f}{cpu:>9.2f}{cores:>7.2f}{peak / GB:>13.2f}"

    for stage in pipe["stages"]:
        lines.append(row(("  * " if stage.get("analysis") else "  ") + stage["stage"], stage["wall_s"], stage["cpu_s"],
                         stage["peak_rss_bytes"]))
    lines.append(row("end to end", pipe["wall_s"], pipe["cpu_s"], pipe["peak_rss_bytes"]))
    analysis_s = targets["analysis_s"]
    lines.append(f"  * analysis stages: {analysis_s:.2f} s, adding {100 * targets['analysis_share']:.1f} % to the "
                 f"{pipe['wall_s'] - analysis_s:.2f} s without them (target <= {100 * TARGET_ANALYSIS_SHARE:g} %: "
                 f"{'met' if targets['analysis_met'] else 'NOT met'})")
    lines.append(row(f"floor ({floor['components']} comp.)", floor["wall_s"], floor["cpu_s"], floor["peak_rss_bytes"]))
    lines.append(f"  floor inside: import {floor['import_s']:.2f} s, join + group-by {floor['compute_s']:.2f} s, "
                 f"write {floor['write_s']:.2f} s")
    bare = result.get("bare_floor")
    if bare:
        lines.append(row(f"bare floor ({bare['components']} comp.)", bare["wall_s"], bare["cpu_s"], bare["peak_rss_bytes"]))
    pandas = result.get("pandas")
    if pandas:
        lines.append(row("pandas script", pandas["wall_s"], pandas["cpu_s"], pandas["peak_rss_bytes"]))
        lines.append(f"  pandas: gutaxis end to end {pipe['wall_s']:.2f} s vs pandas {pandas['wall_s']:.2f} s: gutaxis "
                     f"{'FASTER' if pipe['wall_s'] < pandas['wall_s'] else 'SLOWER'} ({pandas['wall_s'] / pipe['wall_s']:.2f} x); "
                     f"pandas results {'EQUAL' if pandas['comparison']['ok'] else 'DIFFERENT'} to the floor's "
                     f"(max relative difference {pandas['comparison']['max_relative_difference']:.1e})")
    lines.append(f"  not measured: preparation {result['preparation_s']:.2f} s (fetch FNDDS"
                 f"{' and the mechanism sources' if result.get('all_components') else ''}, a demo run that loads "
                 "the composition once, the per-food table extracted for the floor)")
    if pipe["outcome"] != "published":
        lines.append(f"PIPELINE NOT PUBLISHED: {pipe['outcome']}; the figures above stop there (lower bounds)")
    at_least = "" if pipe["outcome"] == "published" else ">= "
    lines.append(f"ratio to floor: wall {at_least}{targets['wall_ratio']:.2f} x end to end, "
                 f"{at_least}{targets['wall_ratio_without_analysis']:.2f} x without the analysis stages (target <= "
                 f"{targets['wall_max_ratio']:g} x: {'met' if targets['wall_met'] else 'NOT met'}); peak memory "
                 f"{at_least}{pipe['peak_rss_bytes'] / GB:.2f} GB = {targets['memory_ratio']:.2f} x floor (target <= "
                 f"{TARGET_PEAK_BYTES / GB:g} GB: {'met' if targets['memory_met'] else 'NOT met'})")
    if "disk_peak_bytes" in pipe:
        lines.append(f"disk: the run took up to {pipe['disk_peak_bytes'] / GB:.2f} GB (largest drop of the workspace "
                     f"filesystem's free space while it ran; other writers count too), workspace afterwards "
                     f"{pipe['workspace_bytes_after'] / GB:.2f} GB (warehouse, analysts' snapshot, lake, per-food table)")
    if bare:
        lines.append(f"  against the bare floor ({bare['components']} components, as before issue 15): "
                     f"{pipe['wall_s'] / bare['wall_s']:.2f} x end to end")
    if cmp:
        lines.append(f"results: {cmp['sampled']} sampled participants x {len(cmp['components'])} components, max "
                     f"relative difference {cmp['max_relative_difference']:.2e} (tolerance {cmp['tolerance']:g} + "
                     f"{cmp['absolute_tolerance']:g} absolute); participants floor {cmp['participants_floor']:,} "
                     f"published {cmp['participants_published']:,}: {'EQUAL' if cmp['ok'] else 'DIFFERENT'}")
    else:
        lines.append("results: not compared (the pipeline published nothing)")
    noise = [f"{name} {result[name]['other_cpu_s']:.1f}" for name in ("floor", "pipeline")]
    lines.append(f"machine: {os.cpu_count()} cores, {result['machine']['mem_total_bytes'] / GB:.1f} GB, load average "
                 f"{' '.join(result['machine']['loadavg_at_start'])} at start; CPU seconds used by other processes "
                 f"during the runs: {', '.join(noise)} (near 0 when idle)")
    return "\n".join(lines)


def hypotheses_label(result: dict) -> str:
    count = result.get("hypotheses")
    return "a hypothesis per component" if count is None else f"{count} hypothes{'is' if count == 1 else 'es'}"


def mode_label(result: dict) -> str:
    return "all components (mechanism sources fetched)" if result.get("all_components") else "FNDDS only"


def code_state() -> dict:
    """The commit benchmarked and whether the checkout had uncommitted changes (figures depend on both)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted": git("status", "--porcelain", "--untracked-files=no").splitlines()}


def meminfo(key: str) -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def summary(run: Measured) -> dict:
    return {"wall_s": run.wall_s, "cpu_s": run.cpu_s, "peak_rss_bytes": run.peak_rss_bytes,
            "sampled_peak_rss_bytes": run.sampled_peak_bytes, "kernel_maxrss_bytes": run.kernel_maxrss_bytes,
            "other_cpu_s": run.other_cpu_s, "returncode": run.returncode, "command": run.command,
            "timeline": timeline(run)}


def timeline(run: Measured, step_s: float = 0.5) -> list[list[float]]:
    """[seconds since start, RSS GB, CPU seconds] about every step_s (the peak of each step), for plotting."""
    points: dict[int, list[float]] = {}
    for mono, rss, cpu in run.monitor.samples:
        slot = int((mono - run.started) / step_s)
        point = points.setdefault(slot, [round(mono - run.started, 2), 0.0, 0.0])
        point[1] = max(point[1], round(rss / GB, 3))
        point[2] = round(cpu, 2)
    return [points[k] for k in sorted(points)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000, help="diary rows (default 100 million)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="cache, results and workspace (default bench/out)")
    parser.add_argument("--keep", action="store_true", help="keep the workspace (warehouse, Dagster storage) afterwards")
    parser.add_argument("--seed", type=int, default=20240611, help="generator seed")
    parser.add_argument("--sample", type=int, default=1000, help="participants compared with the floor")
    parser.add_argument("--grams-decimals", type=int, default=1, metavar="N",
                        help="decimals of the generated grams (default 1; NHANES prints 2, ASA24 more)")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="before each measured run, wait up to SECONDS for the machine to be idle (a shared machine)")
    parser.add_argument("--modes", default=None, metavar="MODES",
                        help="comma-separated: fndds (FNDDS only), all (all components: SR28, FDA FDD, flavonoids, "
                             "FNDDS ingredients fetched); default fndds")
    parser.add_argument("--all-components", action="store_true", help="the same as --modes all")
    parser.add_argument("--no-analysis", action="store_true",
                        help="a cohort without participants, outcomes, analyses or diet indices (`indices: []`)")
    parser.add_argument("--hypotheses", default="1", metavar="N|all",
                        help="association hypotheses of the bench cohort (each two survey-weighted logistic fits over "
                             "every participant): N (default 1, fiber first) or all (one per computed component, the "
                             "shape of the shipped set)")
    parser.add_argument("--pandas", action="store_true",
                        help="also run a researcher's pandas merge + group-by of the same data (bench/pandas_script.py)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="rounds of floors + pipeline per mode, each in a fresh workspace; reports the median ratio")
    parser.add_argument("--shards", default=None, metavar="N|auto",
                        help="the bench cohort's `shards` (default: none, the cohort runs whole); auto: one per 25 M rows")
    parser.add_argument("--max-rss-gb", type=float, default=None,
                        help="kill a measured run whose RSS passes this (default 75%% of the memory available at start)")
    args = parser.parse_args(argv)
    if args.rows < ITEMS_PER_DAY * 2:
        parser.error("--rows must be at least 30")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    modes = parse_modes(args.modes, args.all_components, parser)
    if args.hypotheses != "all" and not (args.hypotheses.isdigit()):
        parser.error("--hypotheses takes a whole number or all")
    args.hypotheses = None if args.hypotheses == "all" else int(args.hypotheses)
    if args.shards is not None and args.shards != "auto" and not (args.shards.isdigit() and int(args.shards) >= 1):
        parser.error("--shards takes a whole number from 1, or auto")
    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    limit_bytes = args.max_rss_gb * GB if args.max_rss_gb else 0.75 * meminfo("MemAvailable")
    machine = {"cores": os.cpu_count(), "mem_total_bytes": meminfo("MemTotal"), "rss_limit_bytes": limit_bytes,
               "loadavg_at_start": open("/proc/loadavg").read().split()[:3]}
    print(f"bench: load average {' '.join(machine['loadavg_at_start'])} ({os.cpu_count()} cores); runs are killed "
          f"above {limit_bytes / GB:.1f} GB RSS", file=sys.stderr)

    composition = fndds_composition()
    composition_file = out_dir / "composition-fndds-2017-2018.parquet"
    composition.write_parquet(composition_file)
    diary = diary_path(out_dir, args.rows, args.seed, args.grams_decimals)
    if diary.exists():
        generation = {"generated": False, "seconds": 0.0}
        print(f"bench: reusing {diary}", file=sys.stderr)
    else:
        print(f"bench: generating {args.rows:,} rows into {diary} ...", file=sys.stderr)
        generation = generate_diary(diary, args.rows, args.seed, composition["food_code"].to_numpy(),
                                    composition["energy_kcal"].to_numpy(), args.grams_decimals)
        print(f"bench: generated in {generation['seconds']:.1f} s", file=sys.stderr)
    analysis_inputs = None
    if not args.no_analysis:
        analysis_inputs = write_analysis_inputs(diary, args.seed)
        print(f"bench: participants and PHQ outcomes in {analysis_inputs[0].name}, {analysis_inputs[1].name}",
              file=sys.stderr)
    generation["peak_rss_bytes_of_bench_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    generation["file_bytes"] = diary.stat().st_size
    warm_page_cache(diary)

    code = code_state()
    failed = False
    for all_components in modes:
        common = {"rows": args.rows, "seed": args.seed, "grams_decimals": args.grams_decimals,
                  "all_components": all_components, "analysis": analysis_inputs is not None,
                  "hypotheses": args.hypotheses, "shards": args.shards, "diary": str(diary),
                  "generation": generation, "machine": machine, "code": code}
        report = out_dir / (diary.name.replace("diary-", "bench-", 1).removesuffix(".parquet")
                            + ("-all" if all_components else "") + ("-noanalysis" if args.no_analysis else "")
                            + (f"-shards{args.shards}" if args.shards else ""))
        rounds = []
        for number in range(1, args.repeat + 1):
            print(f"bench: {'all components' if all_components else 'FNDDS only'}, round {number} of {args.repeat}",
                  file=sys.stderr)
            result, table = measure_round(args, common, diary, composition_file, limit_bytes, all_components,
                                          analysis_inputs)
            rounds.append(result)
            print(table)
            if result["failed"]:
                break
        passed = [r for r in rounds if not r["failed"]]  # a failed round's ratio is only a lower bound
        if len(rounds) > 1:
            overall = {**rounds[-1], "rounds": rounds, "repeat": median_of_rounds(passed) if len(passed) > 1 else None}
            lines = [format_table(r) for r in rounds]
            if overall["repeat"]:
                lines.append(format_repeat(overall["repeat"], rounds[-1]))
                print(lines[-1])
        else:
            overall, lines = rounds[0], [format_table(rounds[0])]
        report.with_suffix(".json").write_text(json.dumps(overall, indent=2) + "\n")
        report.with_suffix(".txt").write_text("\n\n".join(lines) + "\n")
        print(f"bench: wrote {report.with_suffix('.json')} and .txt", file=sys.stderr)
        failed = failed or rounds[-1]["failed"]
        if failed:
            break
    return 1 if failed else 0


def parse_modes(modes: str | None, all_components: bool, parser: argparse.ArgumentParser) -> list[bool]:
    """--modes as a list of all_components flags, in the order given."""
    names = [m.strip() for m in (modes or ("all" if all_components else "fndds")).split(",") if m.strip()]
    unknown = [m for m in names if m not in ("fndds", "all")]
    if unknown or not names:
        parser.error(f"--modes takes fndds and/or all, comma-separated (got {modes!r})")
    return [m == "all" for m in dict.fromkeys(names)]


def measure_round(args: argparse.Namespace, common: dict, diary: Path, composition_file: Path, limit_bytes: float,
                  all_components: bool, analysis_inputs: tuple[Path, Path] | None) -> tuple[dict, str]:
    """One round in a fresh workspace: the floor (the pipeline's components), the bare six-component floor,
    the pandas script (if asked), then the pipeline, then their comparison."""
    workspace, env, spec, per_food, preparation_s = make_workspace(args.out.resolve(), diary, all_components,
                                                                   analysis_inputs, args.hypotheses, args.shards)
    failed = False
    try:
        def contender(name: str, script: str, table: Path, label: str) -> tuple[Measured, Path]:
            result_path = workspace / f"{name}-result.parquet"
            print(f"bench: {label} ...", file=sys.stderr)
            if args.wait_idle:
                print(f"bench: waited {wait_until_idle(args.wait_idle):.0f} s for an idle machine", file=sys.stderr)
            run = run_measured([sys.executable, str(BENCH_DIR / script), str(diary), str(table), str(result_path)],
                               env, name, limit_bytes)
            if run.returncode != 0:
                raise SystemExit(f"bench: the {label} failed (exit {run.returncode})")
            return run, result_path

        floor, floor_result = contender("floor", "floor.py", per_food, "floor (polars join + group-by, the pipeline's components)")
        bare, _ = contender("bare-floor", "floor.py", composition_file, "bare floor (the six FNDDS components)")
        pandas = None
        if args.pandas:
            pandas, pandas_result = contender("pandas", "pandas_script.py", per_food, "pandas script (merge + group-by)")

        print(f"bench: pipeline (gutaxis run --cohort {spec}) ...", file=sys.stderr)
        if args.wait_idle:
            print(f"bench: waited {wait_until_idle(args.wait_idle):.0f} s for an idle machine", file=sys.stderr)
        pipeline = run_measured([str(gutaxis_command()), "run", "--cohort", str(spec)], env, "gutaxis", limit_bytes,
                                disk_path=workspace)
        sys.stderr.write(pipeline.stdout)
        run_keys = [m["run"] for _, _, line in pipeline.stderr_lines if (m := STAGE_LINE.match(line))]
        warehouse = Path(env["GUTAXIS_WAREHOUSE"])
        if pipeline.killed_at_rss_bytes:
            outcome = f"killed by the bench at {pipeline.killed_at_rss_bytes / GB:.1f} GB RSS (limit {limit_bytes / GB:.1f} GB)"
        elif pipeline.returncode != 0:
            outcome = f"failed (exit {pipeline.returncode})"
        else:
            outcome = "published"
        published = outcome == "published"
        finished_epoch = publish_end(warehouse, run_keys[-1]) if published and run_keys else None
        comparison = compare_sample(warehouse, floor_result, args.sample, args.seed) if published else None
        stages = stage_windows(pipeline, finished_epoch)
        analysis_s = analysis_seconds(stages)
        without_analysis = pipeline.wall_s - analysis_s
        max_ratio = TARGET_ALL_COMPONENTS_RATIO if all_components else TARGET_RATIO

        result = {
            **common, "all_components": all_components, "preparation_s": preparation_s,
            "floor": {**summary(floor), **json.loads(floor.stdout.strip().splitlines()[-1])},
            "bare_floor": {**summary(bare), **json.loads(bare.stdout.strip().splitlines()[-1])},
            "pipeline": {**summary(pipeline), "outcome": outcome, "stages": stages,
                         "disk_peak_bytes": pipeline.monitor.disk_free_start - pipeline.monitor.disk_free_min,
                         "workspace_bytes_after": folder_bytes(workspace),
                         "run_key": run_keys[-1] if run_keys else None, "report": pipeline.stdout},
            "comparison": comparison,
            "targets": {
                "wall_ratio": pipeline.wall_s / floor.wall_s,
                "wall_ratio_without_analysis": without_analysis / floor.wall_s,
                "wall_max_ratio": max_ratio,
                "wall_met": published and without_analysis <= max_ratio * floor.wall_s,
                "analysis_s": analysis_s,
                "analysis_share": analysis_s / without_analysis if without_analysis > 0 else 0.0,
                "analysis_met": published and analysis_s <= TARGET_ANALYSIS_SHARE * without_analysis,
                "memory_ratio": pipeline.peak_rss_bytes / floor.peak_rss_bytes,
                "memory_max_bytes": TARGET_PEAK_BYTES,
                "memory_met": published and pipeline.peak_rss_bytes <= TARGET_PEAK_BYTES,
            },
        }
        if pandas is not None:
            result["pandas"] = {**summary(pandas), **json.loads(pandas.stdout.strip().splitlines()[-1]),
                                "comparison": compare_pandas(floor_result, pandas_result),
                                "gutaxis_faster": published and pipeline.wall_s < pandas.wall_s}
        if not published:
            print(f"bench: FAILED: the pipeline was {outcome}", file=sys.stderr)
            failed = True
        elif not comparison["ok"]:
            print("bench: FAILED: the pipeline's per-participant results differ from the floor's:", file=sys.stderr)
            for line in comparison["differences"][:20]:
                print(f"  {line}", file=sys.stderr)
            if comparison["participants_floor"] != comparison["participants_published"]:
                print(f"  participants: floor {comparison['participants_floor']}, "
                      f"published {comparison['participants_published']}", file=sys.stderr)
            failed = True
        result["failed"] = failed
        return result, format_table(result)
    except BaseException:
        failed = True
        raise
    finally:
        if args.keep or failed:
            print(f"bench: workspace kept at {workspace}", file=sys.stderr)
        else:
            shutil.rmtree(workspace, ignore_errors=True)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def median_of_rounds(rounds: list[dict]) -> dict:
    """Medians over the rounds: on a machine whose speed drifts (the floor alone took 6.6 to 10.2 s
    within an hour here), one round's ratio says less than the median of several."""
    ratios = [r["targets"]["wall_ratio_without_analysis"] for r in rounds]
    shares = [r["targets"]["analysis_share"] for r in rounds]
    pandas = [r["pandas"]["wall_s"] for r in rounds if r.get("pandas")]
    return {"rounds": len(rounds), "wall_ratio_median": statistics.median(ratios), "wall_ratio_min": min(ratios),
            "wall_ratio_max": max(ratios),
            "end_to_end_ratio_median": statistics.median([r["targets"]["wall_ratio"] for r in rounds]),
            "analysis_share_median": statistics.median(shares),
            "analysis_s_median": statistics.median([r["targets"]["analysis_s"] for r in rounds]),
            "pipeline_wall_s_median": statistics.median([r["pipeline"]["wall_s"] for r in rounds]),
            "floor_wall_s_median": statistics.median([r["floor"]["wall_s"] for r in rounds]),
            "bare_floor_wall_s_median": statistics.median([r["bare_floor"]["wall_s"] for r in rounds]),
            "pandas_wall_s_median": statistics.median(pandas) if pandas else None,
            "peak_rss_bytes_max": max(r["pipeline"]["peak_rss_bytes"] for r in rounds),
            "wall_max_ratio": rounds[0]["targets"]["wall_max_ratio"],
            "wall_met_by_median": statistics.median(ratios) <= rounds[0]["targets"]["wall_max_ratio"],
            "analysis_met_by_median": statistics.median(shares) <= TARGET_ANALYSIS_SHARE,
            "memory_met_every_round": all(r["targets"]["memory_met"] for r in rounds)}


def format_repeat(repeat: dict, last: dict) -> str:
    pandas = (f", pandas script median {repeat['pandas_wall_s_median']:.2f} s" if repeat.get("pandas_wall_s_median")
              else "")
    return (f"{mode_label(last)} over {repeat['rounds']} rounds: ratio to floor without the analysis stages median "
            f"{repeat['wall_ratio_median']:.2f} x (min {repeat['wall_ratio_min']:.2f}, max {repeat['wall_ratio_max']:.2f}; "
            f"target <= {repeat['wall_max_ratio']:g} x: {'met' if repeat['wall_met_by_median'] else 'NOT met'}), end to "
            f"end {repeat['end_to_end_ratio_median']:.2f} x; analysis stages median {repeat['analysis_s_median']:.2f} s = "
            f"+{100 * repeat['analysis_share_median']:.1f} % (target <= {100 * TARGET_ANALYSIS_SHARE:g} %: "
            f"{'met' if repeat['analysis_met_by_median'] else 'NOT met'}); pipeline median "
            f"{repeat['pipeline_wall_s_median']:.2f} s, floor median {repeat['floor_wall_s_median']:.2f} s, bare floor "
            f"median {repeat['bare_floor_wall_s_median']:.2f} s{pandas}; peak memory at most "
            f"{repeat['peak_rss_bytes_max'] / GB:.2f} GB (target <= {TARGET_PEAK_BYTES / GB:g} GB: "
            f"{'met' if repeat['memory_met_every_round'] else 'NOT met'})")


if __name__ == "__main__":
    raise SystemExit(main())
