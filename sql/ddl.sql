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
    item_seq INTEGER NOT NULL, food_source VARCHAR NOT NULL, food_code VARCHAR, grams DOUBLE NOT NULL);
ALTER TABLE store.diary_items ALTER COLUMN food_code DROP NOT NULL;  -- warehouses made before codes could be NULL
COMMENT ON TABLE store.diary_items IS 'One row per food item eaten in an included recall (quarantined rows and excluded recalls are in audit.*).';
COMMENT ON COLUMN store.diary_items.cohort IS 'Cohort name (the spec''s name; Dagster partition key).';
COMMENT ON COLUMN store.diary_items.participant_id IS 'Participant id as text (NHANES SEQN, ASA24 UserName, or the mapped column).';
COMMENT ON COLUMN store.diary_items.recall_day IS 'Recall or record day, 1-based.';
COMMENT ON COLUMN store.diary_items.item_seq IS 'Item order within the participant-day, 1-based.';
COMMENT ON COLUMN store.diary_items.food_source IS 'Composition source the food code refers to.';
COMMENT ON COLUMN store.diary_items.food_code IS 'Food code (join composition.foods on source, food_code for descriptions); NULL when the file''s code could not be trusted (the item is unlinked; audit.linkage says why).';
COMMENT ON COLUMN store.diary_items.grams IS 'Grams eaten.';

CREATE TABLE IF NOT EXISTS store.participants (
    cohort VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, external_id VARCHAR);
COMMENT ON TABLE store.participants IS 'Participants of each cohort with the instrument''s other id.';
COMMENT ON COLUMN store.participants.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.participants.participant_id IS 'Participant id as in cohort.diary_items.';
COMMENT ON COLUMN store.participants.external_id IS 'Another id the instrument gives (ASA24 UserID); NULL if none.';

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
    cohort VARCHAR NOT NULL, component_id VARCHAR NOT NULL, food_code VARCHAR,
    description VARCHAR, amount DOUBLE, share DOUBLE);
ALTER TABLE store.food_contributions ALTER COLUMN food_code DROP NOT NULL;
COMMENT ON TABLE store.food_contributions IS 'How much each food contributed to each component across a cohort.';
COMMENT ON COLUMN store.food_contributions.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.food_contributions.component_id IS 'Component id.';
COMMENT ON COLUMN store.food_contributions.food_code IS 'Food code as eaten; NULL for the items whose code could not be trusted (their reported values).';
COMMENT ON COLUMN store.food_contributions.description IS 'Description from composition.foods; NULL for unlinked codes.';
COMMENT ON COLUMN store.food_contributions.amount IS 'Total of the component eaten with this food in the cohort, in the component''s unit (reference.components.unit: g, mg or kcal): summed over every included item of the food, of every participant and recall day (the instrument''s reported value where it gives one, else grams x amount per 100 g / 100). Not per participant or per day: divide by the cohort''s participant-days for a daily figure. Foods that add 0 have no row.';
COMMENT ON COLUMN store.food_contributions.share IS 'amount / the cohort''s total of the component over all foods (0-1; sums to 1 per component).';

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
COMMENT ON COLUMN audit.runs.source_versions IS 'JSON: source id -> version of every source the run drew on (the composition source, and for FNDDS the sources its derived values came from).';
COMMENT ON COLUMN audit.runs.outcome IS 'running | staged | published | failed: reason.';
-- Row accounting (added after the first warehouses were made: ALTER keeps theirs).
ALTER TABLE audit.runs ADD COLUMN IF NOT EXISTS rows_read BIGINT;
ALTER TABLE audit.runs ADD COLUMN IF NOT EXISTS rows_published BIGINT;
ALTER TABLE audit.runs ADD COLUMN IF NOT EXISTS rows_quarantined BIGINT;
ALTER TABLE audit.runs ADD COLUMN IF NOT EXISTS rows_excluded BIGINT;
COMMENT ON COLUMN audit.runs.rows_read IS 'Data rows the input files hold, counted apart from the CSV parser (lines less the header and blank lines; a Parquet or XPT file''s rows; an nhanes-tot cohort that joins a nutrient and an FPED file counts a participant-day both give once); NULL if the run failed before reading them.';
COMMENT ON COLUMN audit.runs.rows_published IS 'Rows kept: cohort.diary_items rows of this run once it is published, or for a day-totals cohort its participant-days (marts.participant_day_exposure rows per component).';
COMMENT ON COLUMN audit.runs.rows_quarantined IS 'Rows in audit.quarantine for this run (one per rejected row).';
COMMENT ON COLUMN audit.runs.rows_excluded IS 'Rows of recalls their recall status excludes (audit.inclusion), not quarantined; for a day-totals cohort one per excluded recall day.';
-- added after the first release: ALTER keeps warehouses made before it (new columns go last)
ALTER TABLE audit.runs ADD COLUMN IF NOT EXISTS spec_sha256 VARCHAR;
COMMENT ON COLUMN audit.runs.spec_sha256 IS 'sha256 of the cohort spec file the run read (with input_sha256: a cohort whose spec and data hash the same as its published run''s is unchanged, and the sensor does not run it again).';

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

CREATE TABLE IF NOT EXISTS audit.warned_rows (
    run_id VARCHAR, cohort VARCHAR, suite VARCHAR, "check" VARCHAR, participant_id VARCHAR, recall_day BIGINT,
    food_code VARCHAR, "column" VARCHAR, value VARCHAR);
COMMENT ON TABLE audit.warned_rows IS 'The first rows (up to 5, in participant, day, item order) that broke each warning-level check of a run; the count is audit.validations.unexpected_count.';
COMMENT ON COLUMN audit.warned_rows.run_id IS 'Run key (audit.runs).';
COMMENT ON COLUMN audit.warned_rows.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.warned_rows.suite IS 'Expectation suite (audit.validations.suite).';
COMMENT ON COLUMN audit.warned_rows."check" IS 'Expectation name (audit.validations.check).';
COMMENT ON COLUMN audit.warned_rows.participant_id IS 'Participant id, as in cohort.diary_items.';
COMMENT ON COLUMN audit.warned_rows.recall_day IS 'Recall day; NULL for participant-level checks.';
COMMENT ON COLUMN audit.warned_rows.food_code IS 'Food code of the item; NULL for day- or participant-level checks.';
COMMENT ON COLUMN audit.warned_rows."column" IS 'Stored column whose value broke the rule (grams; amount__energy_kcal: kcal of the day).';
COMMENT ON COLUMN audit.warned_rows.value IS 'The value, as text.';

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
COMMENT ON TABLE audit.linkage IS 'Food codes of a cohort that link to no food (items kept as unlinked: their grams and reported values count).';
COMMENT ON COLUMN audit.linkage.run_id IS 'Run key.';
COMMENT ON COLUMN audit.linkage.cohort IS 'Cohort name.';
COMMENT ON COLUMN audit.linkage.food_source IS 'Source the code was looked up in.';
COMMENT ON COLUMN audit.linkage.food_code IS 'Unlinked food code.';
COMMENT ON COLUMN audit.linkage.n_items IS 'Items with this code.';
COMMENT ON COLUMN audit.linkage.grams IS 'Their grams.';
ALTER TABLE audit.linkage ADD COLUMN IF NOT EXISTS reason VARCHAR;
COMMENT ON COLUMN audit.linkage.reason IS 'not in the composition source (a code the source lacks), or why the file''s code could not be trusted (missing, not a number, too long, inexact scientific notation): such items have food_code NULL in cohort.diary_items and this row shows the code as the file printed it.';

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
COMMENT ON COLUMN audit.derivations.status IS 'used | not fetched | not available | withheld (values withheld for too little linked recipe weight: audit.withheld_values).';
COMMENT ON COLUMN audit.derivations.detail IS 'What was used, or how to fetch it.';
COMMENT ON COLUMN audit.derivations.fingerprint IS 'Fingerprint of every input; an unchanged one skips the derivation.';
COMMENT ON COLUMN audit.derivations.derived_at IS 'UTC time of the derivation.';

CREATE TABLE IF NOT EXISTS audit.withheld_values (
    source VARCHAR, food_code VARCHAR, component_id VARCHAR, linked_share DOUBLE, reason VARCHAR, derived_at TIMESTAMP);
COMMENT ON TABLE audit.withheld_values IS 'Derived values left NULL (unknown, not 0) because too little of the food''s recipe weight reached a value; from the last derivation.';
COMMENT ON COLUMN audit.withheld_values.source IS 'Composition source of the food code.';
COMMENT ON COLUMN audit.withheld_values.food_code IS 'Food code.';
COMMENT ON COLUMN audit.withheld_values.component_id IS 'Component without a value.';
COMMENT ON COLUMN audit.withheld_values.linked_share IS 'Share of the whole recipe weight (ingredients that reached no SR28 food included) whose ingredient has a value.';
COMMENT ON COLUMN audit.withheld_values.reason IS 'Why: the share, the threshold, and how much of the weight reached no SR28 food or SR28 foods without a value.';
COMMENT ON COLUMN audit.withheld_values.derived_at IS 'UTC time of the derivation.';

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

CREATE TABLE IF NOT EXISTS audit.yogurt_crosscheck (
    food_code VARCHAR, description VARCHAR, rule VARCHAR, basis VARCHAR, yogurt_from VARCHAR, fermented_g DOUBLE,
    fped_yogurt_g DOUBLE, difference_g DOUBLE, agree BOOLEAN, derived_at TIMESTAMP);
COMMENT ON TABLE audit.yogurt_crosscheck IS 'Fermented-food grams of the last derivation against FPED D_YOGURT, per FNDDS food that FPED gives yogurt or that the classification calls yogurt-type; empty when FPED is not fetched.';
COMMENT ON COLUMN audit.yogurt_crosscheck.food_code IS 'FNDDS 2017-2018 food code.';
COMMENT ON COLUMN audit.yogurt_crosscheck.description IS 'FNDDS main food description.';
COMMENT ON COLUMN audit.yogurt_crosscheck.rule IS 'The rule of data/reference/fermented_foods.csv that classified the food.';
COMMENT ON COLUMN audit.yogurt_crosscheck.basis IS 'whole (100 g per 100 g) | ingredient (live-culture share of a cold dish) | none (0 g: not live, e.g. cooked or frozen).';
COMMENT ON COLUMN audit.yogurt_crosscheck.yogurt_from IS 'Where the grams came from: classification | recipe (the ingredient profile) | fped (D_YOGURT x 245 g; agrees by construction).';
COMMENT ON COLUMN audit.yogurt_crosscheck.fermented_g IS 'Grams of fermented food with live cultures per 100 g of the food (component fermented_foods); NULL: no value.';
COMMENT ON COLUMN audit.yogurt_crosscheck.fped_yogurt_g IS 'FPED D_YOGURT cup equivalents per 100 g x 245 g per cup equivalent (1 cup of yogurt), g per 100 g.';
COMMENT ON COLUMN audit.yogurt_crosscheck.difference_g IS 'fermented_g - fped_yogurt_g, g per 100 g.';
COMMENT ON COLUMN audit.yogurt_crosscheck.agree IS 'True when |difference_g| <= 15 g per 100 g (fruit yogurt: FPED counts its yogurt, gutaxis the whole food).';
COMMENT ON COLUMN audit.yogurt_crosscheck.derived_at IS 'UTC time of the derivation.';

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

CREATE TABLE IF NOT EXISTS store.pending_publish (
    cohort VARCHAR NOT NULL, run_id VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    previous_table VARCHAR, previous_run_id VARCHAR, previous_published_at TIMESTAMP);
COMMENT ON TABLE store.pending_publish IS 'A publish committed in the work database whose analysts'' snapshot is not yet confirmed: the previous pointers, to restore if the snapshot fails (see warehouse.recover_publishes).';
COMMENT ON COLUMN store.pending_publish.cohort IS 'Cohort being published.';
COMMENT ON COLUMN store.pending_publish.run_id IS 'Run key being published.';
COMMENT ON COLUMN store.pending_publish.kind IS 'Kind of published table (as store.published.kind).';
COMMENT ON COLUMN store.pending_publish.previous_table IS 'The table published before; NULL if the cohort had none.';
COMMENT ON COLUMN store.pending_publish.previous_run_id IS 'Run key that published the previous table.';
COMMENT ON COLUMN store.pending_publish.previous_published_at IS 'When the previous table was published.';

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

-- The dietary weights live in cohort.participants (wt_day1, wt_two_day); a warehouse from before keeps
-- no second copy: its published weight tables become unpublished, dropped by the cohort's next run.
DROP VIEW IF EXISTS cohort.dietary_weights;
DROP TABLE IF EXISTS store.dietary_weights;
DELETE FROM store.published WHERE kind = 'dietary_weights';
