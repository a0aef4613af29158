-- One row per participant for analysts (R, polars): design, attributes, exposures and outcomes.
-- Rebuilt after every publish: its columns follow the component and outcome registries.
CREATE OR REPLACE VIEW marts.analysis_participant AS
WITH exposures AS (
    SELECT cohort, participant_id, max(n_days) AS n_days{exposure_columns}
    FROM marts.participant_exposure GROUP BY cohort, participant_id),
outcomes AS (
    SELECT cohort, participant_id{outcome_columns}
    FROM cohort.outcomes GROUP BY cohort, participant_id),
indices AS (
    SELECT cohort, participant_id{index_columns}
    FROM marts.participant_index GROUP BY cohort, participant_id)
SELECT p.*, e.* EXCLUDE (cohort, participant_id), i.* EXCLUDE (cohort, participant_id),
       o.* EXCLUDE (cohort, participant_id)
FROM cohort.participants p
LEFT JOIN exposures e USING (cohort, participant_id)
LEFT JOIN indices i USING (cohort, participant_id)
LEFT JOIN outcomes o USING (cohort, participant_id);
COMMENT ON VIEW marts.analysis_participant IS 'One row per participant: design (stratum, psu, weights), attributes, exposures <component>_mean_daily / <component>_per_1000kcal, index totals <index_id>_index (marts.participant_index), and outcomes by id (mean of the measurements; oxytocin in pg/mL with oxytocin_method, NULL when a participant has samples of several methods).';
