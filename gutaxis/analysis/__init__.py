"""From exposures to evidence: participants and their survey design, outcomes, survey-design estimates
(engine only, no Dagster)."""
