"""Peak memory bounded by the shard: `gutaxis run` of a generated diary at N shards, and of a diary
K times larger at K x N shards (same items per shard), each measured as the bench measures a run.

    .venv/bin/python bench/shard_memory.py [--rows 2000000] [--shards 2] [--scale 10] [--executor in-process]

Uses bench/run_bench.py's generator (real FNDDS 2017-2018 codes), workspace and process-tree
sampler; the lake is the workspace's own folder. Prints, per run: items, shards, items per shard,
wall seconds, peak RSS of the whole process tree (workers included) and per stage; writes the
same as JSON into --out (default bench/out/, git-ignored).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run_bench  # noqa: E402 - the bench's generator and sampler, beside this file


def measure(rows: int, n_shards: int, executor: str, out: Path, seed: int) -> dict:
    diary = run_bench.diary_path(out, rows, seed)
    if not diary.exists():
        composition = run_bench.fndds_composition()
        run_bench.generate_diary(diary, rows, seed, composition["food_code"].to_numpy(),
                                 composition["energy_kcal"].to_numpy())
    workspace, env, spec, _ = run_bench.make_workspace(out.resolve(), diary)
    try:
        text = json.loads(spec.read_text())
        spec.write_text(json.dumps({**text, "shards": n_shards}, indent=2) + "\n")
        env.update(GUTAXIS_LAKE=str(workspace / "lake"), GUTAXIS_SHARD_EXECUTOR=executor)
        run = run_bench.run_measured([str(run_bench.gutaxis_command()), "run", "--cohort", str(spec)], env, "gutaxis", None)
        if run.returncode != 0:
            raise SystemExit(f"shard_memory: the run failed (exit {run.returncode})")
        stages = run_bench.stage_windows(run, None)
        plans = sorted((workspace / "lake").glob("*/runs/*/run.json"))
        shard_seconds = [s["seconds"] for s in json.loads(plans[-1].read_text())["shards"]] if plans else []
        return {"rows": rows, "shards": n_shards, "rows_per_shard": rows // n_shards, "executor": executor,
                "wall_s": round(run.wall_s, 2), "peak_rss_gb": round(run.peak_rss_bytes / run_bench.GB, 3),
                "shard_seconds": shard_seconds,  # each shard's own time (read, rules, exposures, audit, write)
                "stages": [{"stage": s["stage"], "wall_s": round(s["wall_s"], 2), "peak_gb": round(s["peak_rss_bytes"] / run_bench.GB, 3)}
                           for s in stages]}
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--scale", type=int, default=10, help="the second run's items and shards, times the first's (1: one run)")
    parser.add_argument("--executor", default="in-process")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--out", type=Path, default=run_bench.BENCH_DIR / "out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = [measure(args.rows * k, args.shards * k, args.executor, args.out, args.seed) for k in sorted({1, args.scale})]
    for r in results:
        print(f"{r['rows']:>12,} items  {r['shards']:>4} shards  {r['rows_per_shard']:>10,} per shard  "
              f"{r['wall_s']:8.1f} s  peak {r['peak_rss_gb']:.2f} GB  ({r['executor']})")
        if r["shard_seconds"]:
            print(f"      per shard: median {sorted(r['shard_seconds'])[len(r['shard_seconds']) // 2]:.1f} s, "
                  f"max {max(r['shard_seconds']):.1f} s")
        for s in r["stages"]:
            print(f"      {s['stage']:<18} {s['wall_s']:8.1f} s  peak {s['peak_gb']:.2f} GB")
    record = {"measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **run_bench.code_state(), "runs": results}
    target = args.out / f"shard-memory-{args.rows}-{args.shards}x{args.scale}.json"
    target.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
