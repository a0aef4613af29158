"""Benchmark: the NCI two-part usual-intake model for one episodic component, with Fay-BRR standard errors.

    .venv/bin/python bench/usual_intake_two_part.py [--persons 10000] [--replicates 16] [--nsim 100] [--repeat 3]

Simulates recall days of a known correlated two-part model (P(eat) about 45 %, λ 0.25, person
effects correlated 0.5; 2 recalls for 90 % of persons; covariates age and sex; nuisance effects
recall sequence and weekend in both parts; 15 strata x 2 PSUs with unequal weights), then times
`estimate_usual_intake` with the sex domain: λ, the joint fit, nsim pseudo-persons per person and
the per-person predictions, refitted for each BRR replicate. Reports as bench/usual_intake.py does
(wall and CPU seconds, the machine's other load). Target: < 30 s.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from scipy.special import expit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "bench"))

from usual_intake import TARGET_SECONDS, busy_cpu_seconds  # noqa: E402  (the one-part bench's helpers)

from gutaxis.analysis.usual_intake import estimate_usual_intake  # noqa: E402
from gutaxis.analysis.usual_intake.boxcox import inverse_boxcox  # noqa: E402


def simulated_days(persons: int, seed: int) -> pl.DataFrame:
    """Recall days of a known model: logit P(eat) = -0.6 + 0.01 age + 0.3 male + 0.3 weekend + u1;
    amount on the λ = 0.25 scale = 8 + 0.02 age + 1 male + 0.5 weekend - 0.3 second recall + u2 + e;
    u1 ~ N(0, 1.2²), u2 ~ N(0, 1.5²), corr 0.5, e ~ N(0, 2²)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(19, 80, persons)
    male = rng.integers(0, 2, persons)
    v, w = rng.standard_normal(persons), rng.standard_normal(persons)
    u1, u2 = 1.2 * v, 1.5 * (0.5 * v + np.sqrt(0.75) * w)
    recalls = np.where(rng.random(persons) < 0.9, 2, 1)
    person = np.repeat(np.arange(persons), recalls)
    day = np.concatenate([np.arange(1, m + 1) for m in recalls])
    weekend = (rng.random(person.size) < 3 / 7).astype(int)
    eaten = rng.random(person.size) < expit(-0.6 + 0.01 * age[person] + 0.3 * male[person] + 0.3 * weekend
                                            + u1[person])
    y = (8 + 0.02 * age[person] + male[person] + 0.5 * weekend - 0.3 * (day == 2) + u2[person]
         + rng.normal(0, 2, person.size))
    stratum = person % 15
    return pl.DataFrame({
        "participant_id": person, "recall_day": day, "amount": np.where(eaten, inverse_boxcox(y, 0.25), 0.0),
        "age_years": age[person], "sex": np.where(male[person] == 1, "male", "female"), "weekend": weekend,
        "weight": rng.uniform(1_000, 30_000, persons)[person], "stratum": stratum, "psu": (person // 15) % 2 + 1,
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--replicates", type=int, default=16, help="Fay-BRR replicates (a power of 2 above 15)")
    parser.add_argument("--nsim", type=int, default=100, help="pseudo-persons per person")
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="rounds; the median is reported")
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args(argv)

    days = simulated_days(args.persons, args.seed)
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
        print(f"round {round_number}: {wall:.1f} s wall, {cpu:.1f} s CPU (other processes: {others:.0f} CPU s); "
              f"{result.model}, {result.status}, {result.fit.n_iterations} iterations, notes {result.notes}")
    median = statistics.median(walls)
    print(f"median {median:.1f} s wall (target < {TARGET_SECONDS:.0f} s): {'ok' if median < TARGET_SECONDS else 'over'}")
    return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
