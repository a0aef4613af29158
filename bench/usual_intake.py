"""Benchmark: the NCI one-part usual-intake model for one component, with Fay-BRR standard errors.

    .venv/bin/python bench/usual_intake.py [--persons 10000] [--replicates 16] [--nsim 100] [--repeat 3]

Simulates recall days of a known one-part model (Box-Cox λ 0.4; 2 recalls for 90 % of persons as
in NHANES; covariates age and sex; nuisance effects recall sequence and weekend; a design of 15
strata x 2 PSUs with unequal weights), then times `estimate_usual_intake` with the sex domain:
λ, the REML fit, nsim pseudo-persons per person and the per-person predictions, refitted for each
BRR replicate. Prints wall and CPU seconds per round, the median, and the CPU seconds the machine's
other processes used meanwhile (from /proc/stat), since this machine is shared. Target: < 30 s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from gutaxis.analysis.usual_intake import estimate_usual_intake  # noqa: E402
from gutaxis.analysis.usual_intake.boxcox import inverse_boxcox  # noqa: E402

TARGET_SECONDS = 30.0


def simulated_days(persons: int, seed: int) -> pl.DataFrame:
    """Recall days of a known model: transformed usual = 30 + 0.05 age + 4 male + u, u ~ N(0, 25);
    a day adds 0.8 on weekends, -0.5 on a second recall and e ~ N(0, 40); λ = 0.4."""
    rng = np.random.default_rng(seed)
    age = rng.integers(19, 80, persons)
    male = rng.integers(0, 2, persons)
    usual = 30 + 0.05 * age + 4 * male + rng.normal(0, 5, persons)
    recalls = np.where(rng.random(persons) < 0.9, 2, 1)
    person = np.repeat(np.arange(persons), recalls)
    day = np.concatenate([np.arange(1, m + 1) for m in recalls])
    weekend = (rng.random(person.size) < 3 / 7).astype(int)
    y = usual[person] + 0.8 * weekend - 0.5 * (day == 2) + rng.normal(0, np.sqrt(40), person.size)
    stratum = person % 15
    return pl.DataFrame({
        "participant_id": person, "recall_day": day, "amount": inverse_boxcox(y, 0.4),
        "age_years": age[person], "sex": np.where(male[person] == 1, "male", "female"), "weekend": weekend,
        "weight": rng.uniform(1_000, 30_000, persons)[person], "stratum": stratum, "psu": (person // 15) % 2 + 1,
    })


def busy_cpu_seconds() -> float:
    """CPU seconds all processes of the machine have used (user + nice + system), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    return (int(fields[0]) + int(fields[1]) + int(fields[2])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    return timed_rounds(simulated_days, argv, __doc__)


def timed_rounds(simulate, argv: list[str] | None, doc: str) -> int:
    """The benchmark of both models (this file's one-part days, bench/usual_intake_two_part.py's
    episodic ones): simulate(persons, seed) days, then the timed rounds of estimate_usual_intake with
    the sex domain and BRR SEs. Exit 1 if the model is not estimated or an SE is missing; 0 otherwise,
    whether or not the target is met (the last line says)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--replicates", type=int, default=16, help="Fay-BRR replicates (a power of 2 above 15)")
    parser.add_argument("--nsim", type=int, default=100, help="pseudo-persons per person")
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="rounds; the median is reported")
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args(argv)

    days = simulate(args.persons, args.seed)
    zero = float((days["amount"] == 0).mean())
    print(f"{args.persons:,} persons, {days.height:,} recall days ({100 * zero:.0f} % zero), "
          f"{args.replicates} BRR replicates, nsim {args.nsim}")
    walls = []
    for round_number in range(1, args.repeat + 1):
        busy_before, cpu_before, started = busy_cpu_seconds(), time.process_time(), time.perf_counter()
        result = estimate_usual_intake(
            days, component="simulated", covariates=["age_years", "sex"], nuisance=["recall_sequence", "weekend"],
            weight="weight", design=("stratum", "psu"), domains=["sex"], nsim=args.nsim,
            replicates=args.replicates, seed=args.seed)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        others = busy_cpu_seconds() - busy_before - cpu
        walls.append(wall)
        if result.status != "estimated" or result.distribution["se"].is_null().any():
            print(f"round {round_number}: {result.model}, {result.status}; {result.notes}")
            return 1
        print(f"round {round_number}: {wall:.1f} s wall, {cpu:.1f} s CPU; other processes used {others:.1f} CPU s "
              f"meanwhile; {result.model}, λ {result.fit.lam:.3f}, notes {result.notes}")
    median = statistics.median(walls)
    print(f"median {median:.1f} s wall (target < {TARGET_SECONDS:.0f} s): {'met' if median < TARGET_SECONDS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
