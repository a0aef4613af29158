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

import sys
from pathlib import Path

import numpy as np
import polars as pl
from scipy.special import expit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "bench"))

from usual_intake import timed_rounds  # noqa: E402  (the one-part bench's rounds and report)

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
    return timed_rounds(simulated_days, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
