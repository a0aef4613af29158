"""Deterministic generator of the SYNTHETIC demo: a composition table and a small diary cohort.

Nothing here is real data: food names say "synthetic", values are drawn from plausible ranges so
that the pipeline has something meaningful to compute offline on a fresh clone. Run
`python -m gutaxis.demo data/demo` to regenerate; the output is committed and byte-stable.
"""
from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

SEED = 20261127
N_PARTICIPANTS = 24
# (name, food group, per-100 g ranges for the registry's components); codes are 99xxxxxx, a range
# FNDDS does not use, so demo codes can never be mistaken for real ones.
FOOD_KINDS = [
    ("yogurt, plain", "Dairy", dict(energy_kcal=(55, 75), fiber=(0, 0), tryptophan=(25, 35), tyrosine=(150, 200), choline=(14, 16), omega3_ala=(0.01, 0.03), fermented=True)),
    ("kefir", "Dairy", dict(energy_kcal=(40, 65), tryptophan=(30, 45), tyrosine=(130, 170), choline=(10, 15), omega3_ala=(0.01, 0.02), fermented=True)),
    ("salmon, baked", "Fish", dict(energy_kcal=(180, 210), tryptophan=(230, 260), tyrosine=(700, 800), choline=(90, 100), omega3_ala=(0.1, 0.4), omega3_epa=(0.5, 0.9), omega3_dha=(1.0, 1.5))),
    ("egg, boiled", "Eggs", dict(energy_kcal=(140, 160), tryptophan=(150, 170), tyrosine=(490, 520), choline=(280, 300), omega3_ala=(0.03, 0.05), omega3_dha=(0.03, 0.05))),
    ("oatmeal, cooked", "Grains", dict(energy_kcal=(60, 75), fiber=(1.5, 2.0), tryptophan=(30, 40), tyrosine=(80, 100), choline=(6, 8), beta_glucan=(0.6, 0.9), resistant_starch=(0.2, 0.5), inulin_fos=(0, 0.1))),
    ("whole wheat bread", "Grains", dict(energy_kcal=(240, 260), fiber=(6, 7), tryptophan=(140, 160), tyrosine=(280, 320), choline=(25, 30), inulin_fos=(1.0, 2.0), resistant_starch=(0.8, 1.5))),
    ("onion soup", "Mixed dishes", dict(energy_kcal=(30, 45), fiber=(0.5, 1.0), tryptophan=(10, 15), tyrosine=(25, 35), choline=(5, 8), inulin_fos=(1.0, 2.5))),
    ("potato salad, chilled", "Vegetables", dict(energy_kcal=(130, 150), fiber=(1.2, 1.8), tryptophan=(20, 30), tyrosine=(40, 60), choline=(20, 30), resistant_starch=(2.5, 4.0))),
    ("lentils, cooked", "Legumes", dict(energy_kcal=(110, 120), fiber=(7, 8.5), tryptophan=(75, 85), tyrosine=(230, 250), choline=(30, 35), resistant_starch=(2.0, 3.0), omega3_ala=(0.03, 0.05))),
    ("green tea, brewed", "Beverages", dict(energy_kcal=(0, 2), flavonoids_total=(110, 130), flavan3ols=(100, 120))),
    ("black tea, brewed", "Beverages", dict(energy_kcal=(0, 2), flavonoids_total=(110, 125), flavan3ols=(95, 110))),
    ("blueberries", "Fruit", dict(energy_kcal=(55, 60), fiber=(2.2, 2.6), flavonoids_total=(150, 170), anthocyanidins=(140, 165), flavan3ols=(2, 6))),
    ("banana", "Fruit", dict(energy_kcal=(85, 92), fiber=(2.4, 2.8), tryptophan=(8, 10), tyrosine=(8, 10), choline=(9, 10), inulin_fos=(0.3, 0.7), resistant_starch=(1.0, 4.0), flavonoids_total=(0, 1))),
    ("dark chocolate", "Sweets", dict(energy_kcal=(590, 610), fiber=(10, 11), tryptophan=(90, 110), tyrosine=(300, 340), choline=(45, 50), flavonoids_total=(100, 150), flavan3ols=(90, 140))),
    ("walnuts", "Nuts", dict(energy_kcal=(650, 660), fiber=(6.5, 7), tryptophan=(165, 175), tyrosine=(400, 420), choline=(38, 40), omega3_ala=(9.0, 9.1))),
    ("kimchi", "Vegetables", dict(energy_kcal=(15, 20), fiber=(1.5, 2.0), tryptophan=(10, 15), tyrosine=(25, 30), choline=(8, 12), fermented=True)),
    ("chicken breast, roasted", "Poultry", dict(energy_kcal=(160, 170), tryptophan=(360, 380), tyrosine=(1100, 1200), choline=(80, 90), omega3_ala=(0.01, 0.03), omega3_dha=(0.01, 0.03))),
    ("white rice, cooked", "Grains", dict(energy_kcal=(125, 135), fiber=(0.3, 0.5), tryptophan=(30, 35), tyrosine=(90, 100), choline=(2, 3), resistant_starch=(0.5, 1.5))),
    ("apple", "Fruit", dict(energy_kcal=(50, 55), fiber=(2.3, 2.5), flavonoids_total=(10, 15), flavan3ols=(7, 10), anthocyanidins=(1, 2))),
    ("water, tap", "Beverages", dict(energy_kcal=(0, 0))),
]
OMEGA3_PARTS = ("omega3_ala", "omega3_epa", "omega3_dha")
# The synthetic values stand in for literature values, which never claim more than 0.8 (README, Method).
LITERATURE_CONFIDENCE = 0.8


def _foods(rng: random.Random) -> tuple[list[dict], list[dict]]:
    foods, amounts = [], []
    for index, (name, group, ranges) in enumerate(FOOD_KINDS, start=1):
        code = f"99{index:06d}"
        foods.append(dict(food_code=code, description=f"Synthetic demo food: {name}", food_group=group))
        values = {k: round(rng.uniform(*v), 3) for k, v in ranges.items() if k != "fermented"}
        values["omega3_total"] = round(sum(values.get(p, 0.0) for p in OMEGA3_PARTS), 3)
        values["fermented_foods"] = 100.0 if ranges.get("fermented") else 0.0
        for component in ("fiber", "tryptophan", "tyrosine", "choline", "flavonoids_total", "flavan3ols",
                          "anthocyanidins", "inulin_fos", "resistant_starch", "beta_glucan", *OMEGA3_PARTS):
            values.setdefault(component, 0.0)
        for component, value in sorted(values.items()):
            amounts.append(dict(food_code=code, component_id=component, amount_per_100g=value,
                                route="literature", confidence=LITERATURE_CONFIDENCE))
    return foods, amounts


def _diary(rng: random.Random, foods: list[dict]) -> list[dict]:
    rows = []
    codes = [f["food_code"] for f in foods]
    for p in range(1, N_PARTICIPANTS + 1):
        for day in (1, 2):
            for _ in range(rng.randint(6, 14)):
                rows.append(dict(participant=f"demo-{p:03d}", day=day, food_code=rng.choice(codes),
                                 grams=round(rng.uniform(15, 400), 1)))
    # A few rows that show the audit at work: an unlinked code (kept, counted), and two bad
    # rows that the row-level rules quarantine.
    rows.append(dict(participant="demo-001", day=1, food_code="99999999", grams=120.0))
    rows.append(dict(participant="demo-002", day=1, food_code=codes[0], grams=-50.0))
    rows.append(dict(participant="demo-003", day=2, food_code=codes[1], grams="a cup"))
    return rows


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# Oxytocin methods of the synthetic cohort: the same people could never be pooled across these (Szeto et
# al., Psychosom Med 2011), which is what the demo shows. Plasma after solid-phase extraction reads a few
# pg/mL; unextracted saliva EIA is given in pmol/L to exercise the unit conversion.
OXYTOCIN_METHODS = [("plasma", "ria", "solid-phase", "pg/mL", (1.0, 8.0)),
                    ("saliva", "eia", "none", "pmol/L", (5.0, 60.0))]


def _participants(rng: random.Random) -> list[dict]:
    return [dict(participant=f"demo-{p:03d}", sex=rng.choice(["female", "male"]), age=rng.randint(20, 75),
                 education=rng.choice(["secondary", "tertiary"])) for p in range(1, N_PARTICIPANTS + 1)]


def _oxytocin(rng: random.Random) -> dict[str, list[dict]]:
    """One synthetic sample per participant: the first half by one method, the second by the other."""
    tables: dict[str, list[dict]] = {}
    half = N_PARTICIPANTS // 2
    for p in range(1, N_PARTICIPANTS + 1):
        sample_type, assay, extraction, unit, (low, high) = OXYTOCIN_METHODS[0 if p <= half else 1]
        tables.setdefault(sample_type, []).append(dict(
            participant=f"demo-{p:03d}", oxytocin=round(rng.uniform(low, high), 2), matrix=sample_type, method=assay,
            extraction=extraction, kit=f"synthetic {assay} kit", lod=round(low / 2, 2),
            fasting=rng.choice(["yes", "no"]), collected=f"08:{rng.randint(0, 59):02d}"))
    return tables


def generate(out_dir: Path) -> None:
    rng = random.Random(SEED)
    foods, amounts = _foods(rng)
    (out_dir / "composition").mkdir(parents=True, exist_ok=True)
    _write(out_dir / "composition" / "foods.csv", foods)
    _write(out_dir / "composition" / "food_components.csv", amounts)
    _write(out_dir / "diary.csv", _diary(rng, foods))
    analysis_rng = random.Random(SEED + 1)  # its own stream: the diary above stays byte-identical
    _write(out_dir / "participants.csv", _participants(analysis_rng))
    for sample_type, rows in _oxytocin(analysis_rng).items():
        _write(out_dir / f"oxytocin_{sample_type}.csv", rows)
    (out_dir / "README.md").write_text(
        "# SYNTHETIC demo data\n\nMade by `python -m gutaxis.demo data/demo` (seed "
        f"{SEED}). Not real foods, not real people: it lets `make run` work offline.\n\n"
        "participants.csv (sex, age, education) and oxytocin_plasma.csv / oxytocin_saliva.csv (one SYNTHETIC sample "
        "per participant, two assay methods, one in pmol/L) exercise the analysis path: the methods are never "
        "pooled.\n", encoding="utf-8")


if __name__ == "__main__":
    generate(Path(sys.argv[1] if len(sys.argv) > 1 else "data/demo"))
