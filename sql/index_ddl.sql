-- Diet-quality indices (DESIGN.md marts.participant_day_index / marts.participant_index; README "Indices").
-- Per-cohort tables live in store.* behind the contract views, published with the exposures.
CREATE TABLE IF NOT EXISTS store.day_index (
    cohort VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, recall_day INTEGER NOT NULL, index_id VARCHAR NOT NULL,
    component VARCHAR NOT NULL, score DOUBLE, max_score DOUBLE);
COMMENT ON TABLE store.day_index IS 'Diet-quality index scores per participant and recall day: one row per component and one for the total.';
COMMENT ON COLUMN store.day_index.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.day_index.participant_id IS 'Participant id as in cohort.participants.';
COMMENT ON COLUMN store.day_index.recall_day IS 'Recall day (1, 2, ...), as in marts.participant_day_exposure.';
COMMENT ON COLUMN store.day_index.index_id IS 'Index: hei2015 (Krebs-Smith et al. 2018), hei2020 (Shams-White et al. 2023), ... (README "Indices").';
COMMENT ON COLUMN store.day_index.component IS 'Index component (e.g. total_vegetables, sodium, fatty_acids), or total for the total score (the sum of the components).';
COMMENT ON COLUMN store.day_index.score IS 'Points scored on the day''s intakes, between 0 and max_score.';
COMMENT ON COLUMN store.day_index.max_score IS 'Maximum points of the component (100 for the HEI total).';

CREATE TABLE IF NOT EXISTS store.participant_index (
    cohort VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, index_id VARCHAR NOT NULL, component VARCHAR NOT NULL,
    score DOUBLE, max_score DOUBLE);
COMMENT ON TABLE store.participant_index IS 'Diet-quality index scores per participant on the participant''s mean intakes over the recall days (NCI''s simple HEI score: a ratio of mean intakes, not a mean of daily scores).';
COMMENT ON COLUMN store.participant_index.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.participant_index.participant_id IS 'Participant id as in cohort.participants.';
COMMENT ON COLUMN store.participant_index.index_id IS 'Index: hei2015, hei2020, ... (README "Indices").';
COMMENT ON COLUMN store.participant_index.component IS 'Index component, or total for the total score (the sum of the components).';
COMMENT ON COLUMN store.participant_index.score IS 'Points scored on the participant''s mean intakes over the days with every input, between 0 and max_score.';
COMMENT ON COLUMN store.participant_index.max_score IS 'Maximum points of the component (100 for the HEI total).';

CREATE TABLE IF NOT EXISTS audit.index_status (
    run_id VARCHAR, cohort VARCHAR, index_id VARCHAR, status VARCHAR, participant_days BIGINT, participants BIGINT,
    population VARCHAR);
COMMENT ON TABLE audit.index_status IS 'Per run and index: computed, or not computable and why (the components the cohort lacks).';
COMMENT ON COLUMN audit.index_status.run_id IS 'Run key.';
COMMENT ON COLUMN audit.index_status.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.index_status.index_id IS 'Index id.';
COMMENT ON COLUMN audit.index_status.status IS 'computed, or "not computable: missing X, Y" (components without a value in the cohort).';
COMMENT ON COLUMN audit.index_status.participant_days IS 'Participant-days scored (days lacking an input are not scored).';
COMMENT ON COLUMN audit.index_status.participants IS 'Participants scored on their mean intakes.';
COMMENT ON COLUMN audit.index_status.population IS 'The population-ratio estimate in marts.population_estimates (analysis_id index-<index_id>): the weight it used, or why it was not estimated.';

CREATE TABLE IF NOT EXISTS audit.index_thresholds (
    run_id VARCHAR, cohort VARCHAR, index_id VARCHAR, scope VARCHAR, sex VARCHAR, component VARCHAR, kind VARCHAR,
    threshold DOUBLE, n BIGINT);
COMMENT ON TABLE audit.index_thresholds IS 'Per run: the cohort-relative cut points an index scored against (DI-GM sex-specific medians, aMED medians, AHEI-2010 sodium quantiles).';
COMMENT ON COLUMN audit.index_thresholds.run_id IS 'Run key.';
COMMENT ON COLUMN audit.index_thresholds.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.index_thresholds.index_id IS 'Index id (digm, amed, ahei2010).';
COMMENT ON COLUMN audit.index_thresholds.scope IS 'day: the cut points of marts.participant_day_index (over participant-days); participant: of marts.participant_index (over participant mean intakes).';
COMMENT ON COLUMN audit.index_thresholds.sex IS 'The sex the cut point is for, as cohort.participants codes it; all when it is the whole cohort''s.';
COMMENT ON COLUMN audit.index_thresholds.component IS 'Index component.';
COMMENT ON COLUMN audit.index_thresholds.kind IS 'median, a fixed cut (DI-GM high-fat diet: 40 % of energy) or a quantile (AHEI-2010 sodium, j/11).';
COMMENT ON COLUMN audit.index_thresholds.threshold IS 'The cut point, in the unit the index scores the component in.';
COMMENT ON COLUMN audit.index_thresholds.n IS 'Rows (participant-days or participants) the cut point is computed over.';
