"""From exposures to evidence: what a cohort declares (declarations), its participants and outcomes
(participants, outcomes, cohort_tables), survey-design estimates (estimates), the declared analyses
(analyses) and the run's steps on the warehouse (steps). No Dagster import."""
