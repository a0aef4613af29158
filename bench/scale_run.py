"""Benchmark beyond the floor's reach: `gutaxis run` of the bench diary at 300 M or 1 B items, sharded.

    GUTAXIS_SHARD_EXECUTOR=processes:1 .venv/bin/python bench/scale_run.py --rows 300000000 [--shards auto]

The floor of bench/run_bench.py holds the whole join in memory (7.3 GB at 100 M items with 39
components), so at these sizes it cannot run beside the pipeline on this machine. This script times
the pipeline alone, in the same workspace, diary and spec as run_bench.py (FNDDS only, no analysis,
no index), and checks its results the floor's way on a sample: the floor's join + group-by computed
for 1,000 sampled participants only (a filtered scan), against their published mean_daily, and the
published participant count against the diary's distinct participants. Prints the stages (wall s,
CPU s, peak RSS summed over the process tree, workers included), the run's disk use, and writes
bench/out/scale-N-shardsS.json. Exit 1 if the run fails or a result differs.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run_bench as bench  # noqa: E402  (the bench's generator, workspace, measurement and comparison)
from floor import participant_means  # noqa: E402


def sampled_floor(diary: Path, per_food: Path, sample_size: int, seed: int) -> tuple[pl.DataFrame, int]:
    """(the floor's participant means for sample_size random participants, the diary's participants)."""
    ids = pl.scan_parquet(diary).select(pl.col("participant_id").unique()).collect(engine="streaming")
    sample = ids.sample(n=min(sample_size, ids.height), seed=seed)["participant_id"]
    means = (participant_means(str(diary), pl.read_parquet(per_food))
             .filter(pl.col("participant_id").is_in(sample.implode())).collect(engine="streaming"))
    return means, ids.height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000_000)
    parser.add_argument("--shards", default="auto", metavar="N|auto")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=bench.BENCH_DIR / "out")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    composition = bench.fndds_composition()
    diary = bench.diary_path(out, args.rows, args.seed)
    if not diary.exists():
        print(f"scale: generating {args.rows:,} rows into {diary} ...", file=sys.stderr)
        bench.generate_diary(diary, args.rows, args.seed, composition["food_code"].to_numpy(),
                             composition["energy_kcal"].to_numpy())
    workspace, env, spec, per_food, preparation_s = bench.make_workspace(out, diary, shards=args.shards)
    failed = True
    try:
        bench.warm_page_cache(diary)
        print(f"scale: pipeline (gutaxis run --cohort {spec}), shards {args.shards} ...", file=sys.stderr)
        run = bench.run_measured([str(bench.gutaxis_command()), "run", "--cohort", str(spec)], env, "gutaxis",
                                 0.9 * bench.meminfo("MemAvailable"), disk_path=workspace)
        sys.stderr.write(run.stdout)
        if run.returncode != 0:
            print(f"scale: FAILED: the pipeline exited {run.returncode}", file=sys.stderr)
            return 1
        run_keys = [m["run"] for _, _, line in run.stderr_lines if (m := bench.STAGE_LINE.match(line))]
        warehouse = Path(env["GUTAXIS_WAREHOUSE"])
        stages = bench.stage_windows(run, bench.publish_end(warehouse, run_keys[-1]))
        floor, diary_participants = sampled_floor(diary, per_food, args.sample, args.seed)
        published, count = bench.published_means(warehouse, floor["participant_id"], [c for c in floor.columns
                                                                                     if c != "participant_id"])
        comparison = bench.compare_means(floor, published, count, [c for c in floor.columns if c != "participant_id"])
        comparison["ok"] = not comparison["differences"] and count == diary_participants
        result = {"rows": args.rows, "shards": args.shards, "code": bench.code_state(), "preparation_s": preparation_s,
                  "pipeline": {**bench.summary(run), "stages": stages,
                               "disk_peak_bytes": run.monitor.disk_free_start - run.monitor.disk_free_min,
                               "workspace_bytes_after": bench.folder_bytes(workspace)},
                  "participants": {"diary": diary_participants, "published": count}, "comparison": comparison}
        lines = [f"gutaxis at {args.rows:,} items, shards {args.shards}, executor "
                 f"{env.get('GUTAXIS_SHARD_EXECUTOR', 'in-process')}; code {result['code']['commit']}",
                 f"{'stage':<22}{'wall s':>9}{'cpu s':>9}{'peak RSS GB':>13}"]
        lines += [f"{s['stage']:<22}{s['wall_s']:>9.2f}{s['cpu_s']:>9.2f}{s['peak_rss_bytes'] / bench.GB:>13.2f}"
                  for s in stages]
        lines.append(f"{'end to end':<22}{run.wall_s:>9.2f}{run.cpu_s:>9.2f}{run.peak_rss_bytes / bench.GB:>13.2f}")
        lines.append(f"disk: up to {result['pipeline']['disk_peak_bytes'] / bench.GB:.2f} GB during the run, workspace "
                     f"{result['pipeline']['workspace_bytes_after'] / bench.GB:.2f} GB after; diary "
                     f"{diary.stat().st_size / bench.GB:.2f} GB")
        lines.append(f"results: {comparison['sampled']} sampled participants, max relative difference "
                     f"{comparison['max_relative_difference']:.2e}; participants diary {diary_participants:,} published "
                     f"{count:,}: {'EQUAL' if comparison['ok'] else 'DIFFERENT'}")
        print("\n".join(lines))
        report = out / f"scale-{args.rows}-shards{args.shards}.json"
        report.write_text(json.dumps(result, indent=2) + "\n")
        failed = not comparison["ok"]
        return 1 if failed else 0
    finally:
        if args.keep or failed:
            print(f"scale: workspace kept at {workspace}", file=sys.stderr)
        else:
            shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
