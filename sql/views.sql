-- Analyst views; rebuilt after every publish because the wide view's columns follow the registry.
CREATE OR REPLACE VIEW marts.participant_exposure_wide AS
PIVOT (SELECT cohort, participant_id, n_days, component_id, mean_daily FROM marts.participant_exposure)
ON component_id IN ({component_ids}) USING first(mean_daily) GROUP BY cohort, participant_id, n_days;
COMMENT ON VIEW marts.participant_exposure_wide IS 'One row per participant, a column per component (mean daily amount in the component''s unit).';
