-- gutaxis warehouse schema. The per-cohort contract names (cohort.diary_items, cohort.participants,
-- marts.participant_day_exposure, marts.participant_exposure, marts.food_contributions) are views over
-- one physical table per cohort in schema store (see warehouse.publish_cohort); the store.* tables
-- created here are their empty typed templates, whose comments the views copy.
-- Every table and column carries a COMMENT: analysts read them with
-- `SELECT * FROM duckdb_columns() WHERE schema_name = 'marts'`.
CREATE SCHEMA IF NOT EXISTS reference;
CREATE SCHEMA IF NOT EXISTS composition;
CREATE SCHEMA IF NOT EXISTS cohort;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS store;

CREATE TABLE IF NOT EXISTS reference.components (
    component_id VARCHAR PRIMARY KEY, name VARCHAR, unit VARCHAR, category VARCHAR,
    mechanism VARCHAR, food_sources VARCHAR);
COMMENT ON TABLE reference.components IS 'Registry of exposure components (data/reference/components.csv).';
COMMENT ON COLUMN reference.components.component_id IS 'Stable id used in every mart, e.g. tryptophan.';
COMMENT ON COLUMN reference.components.name IS 'Human-readable name.';
COMMENT ON COLUMN reference.components.unit IS 'Unit of every amount of this component (kcal, g or mg).';
COMMENT ON COLUMN reference.components.category IS 'prebiotic, precursor, polyphenol, fatty acid, probiotic or energy.';
COMMENT ON COLUMN reference.components.mechanism IS 'Why the gut-brain-oxytocin literature cares about it.';
COMMENT ON COLUMN reference.components.food_sources IS 'Main food sources.';

CREATE TABLE IF NOT EXISTS composition.foods (
    source VARCHAR NOT NULL, food_code VARCHAR NOT NULL, description VARCHAR, food_group VARCHAR,
    PRIMARY KEY (source, food_code));
COMMENT ON TABLE composition.foods IS 'Foods of each composition source (SR28, FNDDS, demo).';
COMMENT ON COLUMN composition.foods.source IS 'Source id (data/sources/ID.yaml).';
COMMENT ON COLUMN composition.foods.food_code IS 'Food code as text: FNDDS 8 digits, SR 5 digits zero-padded.';
COMMENT ON COLUMN composition.foods.description IS 'Publisher''s food description.';
COMMENT ON COLUMN composition.foods.food_group IS 'Publisher''s food group.';

CREATE TABLE IF NOT EXISTS composition.food_components (
    source VARCHAR NOT NULL, food_code VARCHAR NOT NULL, component_id VARCHAR NOT NULL,
    amount_per_100g DOUBLE, route VARCHAR, confidence DOUBLE,
    PRIMARY KEY (source, food_code, component_id));
COMMENT ON TABLE composition.food_components IS 'Amount of each component per 100 g edible portion, with provenance.';
COMMENT ON COLUMN composition.food_components.source IS 'Source id.';
COMMENT ON COLUMN composition.food_components.food_code IS 'Food code within the source.';
COMMENT ON COLUMN composition.food_components.component_id IS 'Component id (reference.components).';
COMMENT ON COLUMN composition.food_components.amount_per_100g IS 'Amount per 100 g, in the component''s unit.';
COMMENT ON COLUMN composition.food_components.route IS 'analytical | disaggregated | literature | matched.';
COMMENT ON COLUMN composition.food_components.confidence IS '0-1: how far the value can be trusted (1 = published analytical value).';

CREATE TABLE IF NOT EXISTS store.diary_items (
    cohort VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, recall_day INTEGER NOT NULL,
    item_seq INTEGER NOT NULL, food_source VARCHAR NOT NULL, food_code VARCHAR NOT NULL, grams DOUBLE NOT NULL);
COMMENT ON TABLE store.diary_items IS 'One row per food item eaten in an included recall (quarantined rows and excluded recalls are in audit.*).';
COMMENT ON COLUMN store.diary_items.cohort IS 'Cohort name (the spec''s name; Dagster partition key).';
COMMENT ON COLUMN store.diary_items.participant_id IS 'Participant id as text (NHANES SEQN, ASA24 UserName, or the mapped column).';
COMMENT ON COLUMN store.diary_items.recall_day IS 'Recall or record day, 1-based.';
COMMENT ON COLUMN store.diary_items.item_seq IS 'Item order within the participant-day, 1-based.';
COMMENT ON COLUMN store.diary_items.food_source IS 'Composition source the food code refers to.';
COMMENT ON COLUMN store.diary_items.food_code IS 'Food code (join composition.foods on source, food_code for descriptions).';
COMMENT ON COLUMN store.diary_items.grams IS 'Grams eaten.';

CREATE TABLE IF NOT EXISTS store.participants (
    cohort VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, external_id VARCHAR);
COMMENT ON TABLE store.participants IS 'Participants of each cohort with the instrument''s other id.';
COMMENT ON COLUMN store.participants.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.participants.participant_id IS 'Participant id as in cohort.diary_items.';
COMMENT ON COLUMN store.participants.external_id IS 'Another id the instrument gives (ASA24 UserID); NULL if none.';

CREATE TABLE IF NOT EXISTS store.dietary_weights (
    cohort VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, wt_day1 DOUBLE, wt_two_day DOUBLE,
    wt_day1_variable VARCHAR, wt_two_day_variable VARCHAR);
COMMENT ON TABLE store.dietary_weights IS 'The dietary survey weights that a cohort''s diary files carry (NHANES day-totals files), one row per participant; cohort.participants takes its wt_day1 and wt_two_day from here.';
COMMENT ON COLUMN store.dietary_weights.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.dietary_weights.participant_id IS 'Participant id as in the exposure tables; every participant of the files, with a usable recall or not.';
COMMENT ON COLUMN store.dietary_weights.wt_day1 IS 'Day-1 dietary weight (NHANES WTDRD1, or WTDRD1PP in 2017-March 2020 files); 0 for participants without a usable day-1 recall; NULL if the file has none.';
COMMENT ON COLUMN store.dietary_weights.wt_two_day IS 'Two-day dietary weight (NHANES WTDR2D, or WTDR2DPP); NULL if the file has none for the participant.';
COMMENT ON COLUMN store.dietary_weights.wt_day1_variable IS 'The file variable wt_day1 was read from (WTDRD1 or WTDRD1PP).';
COMMENT ON COLUMN store.dietary_weights.wt_two_day_variable IS 'The file variable wt_two_day was read from (WTDR2D or WTDR2DPP).';

CREATE TABLE IF NOT EXISTS store.day_exposure (
    cohort VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, recall_day INTEGER NOT NULL,
    component_id VARCHAR NOT NULL, amount DOUBLE, unit VARCHAR, coverage DOUBLE, source VARCHAR);
COMMENT ON TABLE store.day_exposure IS 'Each component''s intake per participant and recall day.';
COMMENT ON COLUMN store.day_exposure.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.day_exposure.participant_id IS 'Participant id.';
COMMENT ON COLUMN store.day_exposure.recall_day IS 'Recall day, 1-based.';
COMMENT ON COLUMN store.day_exposure.component_id IS 'Component id (reference.components).';
COMMENT ON COLUMN store.day_exposure.amount IS 'Sum over the day''s items; 0 = none eaten; NULL = no item of the day had a value.';
COMMENT ON COLUMN store.day_exposure.unit IS 'Unit of amount.';
COMMENT ON COLUMN store.day_exposure.coverage IS 'Share of the day''s grams whose items had a value for this component (0-1).';
COMMENT ON COLUMN store.day_exposure.source IS 'reported (instrument''s own item values) | composition (linked food) | mixed.';

CREATE TABLE IF NOT EXISTS store.participant_exposure (
    cohort VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, n_days INTEGER NOT NULL,
    component_id VARCHAR NOT NULL, mean_daily DOUBLE, per_1000kcal DOUBLE, unit VARCHAR,
    coverage DOUBLE, low_coverage BOOLEAN);
COMMENT ON TABLE store.participant_exposure IS 'Each component''s mean daily intake per participant over their included recall days.';
COMMENT ON COLUMN store.participant_exposure.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.participant_exposure.participant_id IS 'Participant id.';
COMMENT ON COLUMN store.participant_exposure.n_days IS 'Number of included recall days.';
COMMENT ON COLUMN store.participant_exposure.component_id IS 'Component id.';
COMMENT ON COLUMN store.participant_exposure.mean_daily IS 'Mean of the daily amounts (days with a value).';
COMMENT ON COLUMN store.participant_exposure.per_1000kcal IS '1000 x mean_daily / mean daily energy (a ratio of means); NULL when energy is 0 or unknown.';
COMMENT ON COLUMN store.participant_exposure.unit IS 'Unit of mean_daily; per_1000kcal is in the same unit per 1000 kcal.';
COMMENT ON COLUMN store.participant_exposure.coverage IS 'Share of all the participant''s grams with a value for this component (0-1).';
COMMENT ON COLUMN store.participant_exposure.low_coverage IS 'TRUE when coverage is below the cohort spec''s low_coverage_threshold (default 0.8).';

CREATE TABLE IF NOT EXISTS store.food_contributions (
    cohort VARCHAR NOT NULL, component_id VARCHAR NOT NULL, food_code VARCHAR NOT NULL,
    description VARCHAR, amount DOUBLE, share DOUBLE);
COMMENT ON TABLE store.food_contributions IS 'How much each food contributed to each component across a cohort.';
COMMENT ON COLUMN store.food_contributions.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.food_contributions.component_id IS 'Component id.';
COMMENT ON COLUMN store.food_contributions.food_code IS 'Food code as eaten.';
COMMENT ON COLUMN store.food_contributions.description IS 'Description from composition.foods; NULL for unlinked codes.';
COMMENT ON COLUMN store.food_contributions.amount IS 'Sum of the component over all the cohort''s items of this food.';
COMMENT ON COLUMN store.food_contributions.share IS 'amount / the cohort''s total of the component (sums to 1 per component).';

CREATE TABLE IF NOT EXISTS audit.runs (
    run_id VARCHAR PRIMARY KEY, dagster_run_id VARCHAR, cohort VARCHAR, started TIMESTAMP,
    finished TIMESTAMP, code_version VARCHAR, input_sha256 VARCHAR, source_versions VARCHAR, outcome VARCHAR);
COMMENT ON TABLE audit.runs IS 'One row per cohort materialisation attempt.';
COMMENT ON COLUMN audit.runs.run_id IS 'gutaxis run key (also the suffix of the store tables the run stages).';
COMMENT ON COLUMN audit.runs.dagster_run_id IS 'Dagster run id.';
COMMENT ON COLUMN audit.runs.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.runs.started IS 'UTC start of ingest.';
COMMENT ON COLUMN audit.runs.finished IS 'UTC end (publish or failure); NULL while running or if killed.';
COMMENT ON COLUMN audit.runs.code_version IS 'gutaxis version and git commit.';
COMMENT ON COLUMN audit.runs.input_sha256 IS 'JSON: data file name -> sha256.';
COMMENT ON COLUMN audit.runs.source_versions IS 'JSON: composition source id -> version.';
COMMENT ON COLUMN audit.runs.outcome IS 'running | staged | published | failed: reason.';

CREATE TABLE IF NOT EXISTS audit.validations (
    run_id VARCHAR, cohort VARCHAR, suite VARCHAR, table_name VARCHAR, "check" VARCHAR, "column" VARCHAR,
    severity VARCHAR, success BOOLEAN, unexpected_count BIGINT, element_count BIGINT, detail VARCHAR,
    validated_at TIMESTAMP);
COMMENT ON TABLE audit.validations IS 'Great Expectations results, one row per expectation per run.';
COMMENT ON COLUMN audit.validations.run_id IS 'Run key (audit.runs).';
COMMENT ON COLUMN audit.validations.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.validations.suite IS 'Expectation suite.';
COMMENT ON COLUMN audit.validations.table_name IS 'Staged table validated.';
COMMENT ON COLUMN audit.validations."check" IS 'Expectation name.';
COMMENT ON COLUMN audit.validations."column" IS 'Column checked, if one.';
COMMENT ON COLUMN audit.validations.severity IS 'block (failing stops publishing) | warn.';
COMMENT ON COLUMN audit.validations.success IS 'Whether the expectation held.';
COMMENT ON COLUMN audit.validations.unexpected_count IS 'Rows that broke it.';
COMMENT ON COLUMN audit.validations.element_count IS 'Rows examined.';
COMMENT ON COLUMN audit.validations.detail IS 'Examples of unexpected values or the error.';
COMMENT ON COLUMN audit.validations.validated_at IS 'UTC time of validation.';

CREATE TABLE IF NOT EXISTS audit.quarantine (
    run_id VARCHAR, cohort VARCHAR, source_file VARCHAR, source_row BIGINT, "column" VARCHAR,
    value VARCHAR, reason VARCHAR);
COMMENT ON TABLE audit.quarantine IS 'Rows that broke a row-level rule and were kept out of cohort.diary_items.';
COMMENT ON COLUMN audit.quarantine.run_id IS 'Run key.';
COMMENT ON COLUMN audit.quarantine.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.quarantine.source_file IS 'Data file name.';
COMMENT ON COLUMN audit.quarantine.source_row IS '1-based data row in that file (header excluded).';
COMMENT ON COLUMN audit.quarantine."column" IS 'Column that broke the rule.';
COMMENT ON COLUMN audit.quarantine.value IS 'The raw value.';
COMMENT ON COLUMN audit.quarantine.reason IS 'The rule broken.';

CREATE TABLE IF NOT EXISTS audit.inclusion (
    run_id VARCHAR, cohort VARCHAR, participant_id VARCHAR, recall_day INTEGER, recall_status INTEGER,
    included BOOLEAN, n_items BIGINT, reason VARCHAR);
COMMENT ON TABLE audit.inclusion IS 'Every recall and whether the instrument''s status let it in.';
COMMENT ON COLUMN audit.inclusion.run_id IS 'Run key.';
COMMENT ON COLUMN audit.inclusion.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.inclusion.participant_id IS 'Participant id.';
COMMENT ON COLUMN audit.inclusion.recall_day IS 'Recall day.';
COMMENT ON COLUMN audit.inclusion.recall_status IS 'Instrument status code (NHANES DRxDRSTZ, ASA24 RecallStatus); NULL if none.';
COMMENT ON COLUMN audit.inclusion.included IS 'Whether the recall''s items were used.';
COMMENT ON COLUMN audit.inclusion.n_items IS 'Items in the recall.';
COMMENT ON COLUMN audit.inclusion.reason IS 'Why excluded.';

CREATE TABLE IF NOT EXISTS audit.linkage (
    run_id VARCHAR, cohort VARCHAR, food_source VARCHAR, food_code VARCHAR, n_items BIGINT, grams DOUBLE);
COMMENT ON TABLE audit.linkage IS 'Food codes of a cohort that no composition source knows (items kept as unlinked).';
COMMENT ON COLUMN audit.linkage.run_id IS 'Run key.';
COMMENT ON COLUMN audit.linkage.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.linkage.food_source IS 'Source the code was looked up in.';
COMMENT ON COLUMN audit.linkage.food_code IS 'Unlinked food code.';
COMMENT ON COLUMN audit.linkage.n_items IS 'Items with this code.';
COMMENT ON COLUMN audit.linkage.grams IS 'Their grams.';

CREATE TABLE IF NOT EXISTS audit.source_loads (
    source VARCHAR PRIMARY KEY, version VARCHAR, fingerprint VARCHAR, n_foods BIGINT, n_values BIGINT, loaded_at TIMESTAMP);
COMMENT ON TABLE audit.source_loads IS 'Which version of each composition source the warehouse holds.';
COMMENT ON COLUMN audit.source_loads.source IS 'Source id.';
COMMENT ON COLUMN audit.source_loads.version IS 'Source spec version.';
COMMENT ON COLUMN audit.source_loads.fingerprint IS 'sha256 over the loaded files; a new one triggers a reload.';
COMMENT ON COLUMN audit.source_loads.n_foods IS 'Foods loaded.';
COMMENT ON COLUMN audit.source_loads.n_values IS 'Component values loaded.';
COMMENT ON COLUMN audit.source_loads.loaded_at IS 'UTC time of the load.';

CREATE TABLE IF NOT EXISTS audit.derivations (
    source VARCHAR, status VARCHAR, detail VARCHAR, fingerprint VARCHAR, derived_at TIMESTAMP);
COMMENT ON TABLE audit.derivations IS 'Which sources the last derivation of FNDDS values (amino acids, flavonoids, prebiotics, fermented foods) used, and which were missing.';
COMMENT ON COLUMN audit.derivations.source IS 'Source id or reference table.';
COMMENT ON COLUMN audit.derivations.status IS 'used | not fetched | not available.';
COMMENT ON COLUMN audit.derivations.detail IS 'What was used, or how to fetch it.';
COMMENT ON COLUMN audit.derivations.fingerprint IS 'Fingerprint of every input; an unchanged one skips the derivation.';
COMMENT ON COLUMN audit.derivations.derived_at IS 'UTC time of the derivation.';

CREATE TABLE IF NOT EXISTS audit.protein_agreement (
    via VARCHAR, n_foods BIGINT, median_abs_pct_diff DOUBLE, share_within_10pct DOUBLE, median_pct_diff DOUBLE,
    n_low_protein BIGINT, derived_at TIMESTAMP);
COMMENT ON TABLE audit.protein_agreement IS 'How well protein summed through each linkage route agrees with the FNDDS food''s own protein (foods with at least 1 g/100 g).';
COMMENT ON COLUMN audit.protein_agreement.via IS 'Linkage route (fndds-ingredients | fda-fdd) or all.';
COMMENT ON COLUMN audit.protein_agreement.n_foods IS 'Foods compared.';
COMMENT ON COLUMN audit.protein_agreement.median_abs_pct_diff IS 'Median absolute difference, % of the FNDDS protein.';
COMMENT ON COLUMN audit.protein_agreement.share_within_10pct IS 'Share of foods within 10 %.';
COMMENT ON COLUMN audit.protein_agreement.median_pct_diff IS 'Median signed difference, %.';
COMMENT ON COLUMN audit.protein_agreement.n_low_protein IS 'Foods under 1 g protein per 100 g, not compared.';
COMMENT ON COLUMN audit.protein_agreement.derived_at IS 'UTC time of the derivation.';

CREATE TABLE IF NOT EXISTS audit.reach (
    run_id VARCHAR, cohort VARCHAR, component_id VARCHAR, grams_total DOUBLE, share_with_value DOUBLE);
COMMENT ON TABLE audit.reach IS 'Share of a cohort''s grams that have a value for each component (any route).';
COMMENT ON COLUMN audit.reach.run_id IS 'Run key.';
COMMENT ON COLUMN audit.reach.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.reach.component_id IS 'Component id.';
COMMENT ON COLUMN audit.reach.grams_total IS 'All grams of the cohort''s included items.';
COMMENT ON COLUMN audit.reach.share_with_value IS 'Share of those grams with a value for the component.';

CREATE TABLE IF NOT EXISTS audit.unreached_foods (
    run_id VARCHAR, cohort VARCHAR, component_id VARCHAR, food_code VARCHAR, description VARCHAR, grams DOUBLE, share_of_grams DOUBLE);
COMMENT ON TABLE audit.unreached_foods IS 'The foods (by grams eaten) that no route gives a value for a component: where better sources would help most.';
COMMENT ON COLUMN audit.unreached_foods.run_id IS 'Run key.';
COMMENT ON COLUMN audit.unreached_foods.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.unreached_foods.component_id IS 'Component id.';
COMMENT ON COLUMN audit.unreached_foods.food_code IS 'Food code.';
COMMENT ON COLUMN audit.unreached_foods.description IS 'Description, if the composition source knows the code.';
COMMENT ON COLUMN audit.unreached_foods.grams IS 'Grams of this food eaten in the cohort.';
COMMENT ON COLUMN audit.unreached_foods.share_of_grams IS 'Share of the cohort''s grams.';

CREATE TABLE IF NOT EXISTS store.published (
    cohort VARCHAR NOT NULL, kind VARCHAR NOT NULL, table_name VARCHAR NOT NULL, run_id VARCHAR, published_at TIMESTAMP,
    PRIMARY KEY (cohort, kind));
COMMENT ON TABLE store.published IS 'Which physical store table holds each cohort''s published rows of each kind.';
COMMENT ON COLUMN store.published.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.published.kind IS 'diary_items | participants | day_exposure | participant_exposure | food_contributions.';
COMMENT ON COLUMN store.published.table_name IS 'Table in schema store (the run that published it staged it there).';
COMMENT ON COLUMN store.published.run_id IS 'Run key that published it.';
COMMENT ON COLUMN store.published.published_at IS 'UTC time of publishing.';

CREATE TABLE IF NOT EXISTS store.item_sources (
    table_name VARCHAR NOT NULL, food_source VARCHAR NOT NULL, code_width INTEGER NOT NULL);
COMMENT ON TABLE store.item_sources IS 'The constants of each staged items table, kept here rather than on 100 M rows: cohort.diary_items shows them.';
COMMENT ON COLUMN store.item_sources.table_name IS 'Items table in schema store.';
COMMENT ON COLUMN store.item_sources.food_source IS 'Composition source its food codes refer to.';
COMMENT ON COLUMN store.item_sources.code_width IS 'Digits of that source''s food codes (the view zero-pads the stored numbers to it).';

CREATE TABLE IF NOT EXISTS store.exposure_settings (
    table_name VARCHAR NOT NULL, low_coverage_threshold DOUBLE NOT NULL);
COMMENT ON TABLE store.exposure_settings IS 'The settings of each staged participant exposure table that marts.participant_exposure needs to derive its columns.';
COMMENT ON COLUMN store.exposure_settings.table_name IS 'Participant exposure table in schema store.';
COMMENT ON COLUMN store.exposure_settings.low_coverage_threshold IS 'The cohort spec''s threshold: low_coverage is coverage below it.';

CREATE TABLE IF NOT EXISTS store.schema_applied (ddl_sha256 VARCHAR);
COMMENT ON TABLE store.schema_applied IS 'sha256 of the sql/ddl.sql text last applied to this database: a writer that finds the same text skips it.';
COMMENT ON COLUMN store.schema_applied.ddl_sha256 IS 'Hex sha256 of sql/ddl.sql.';
