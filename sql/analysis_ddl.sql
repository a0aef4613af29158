-- Participants, outcomes and survey-design analysis (DESIGN.md "Participants, outcomes and analysis").
-- Per-cohort tables live in store.* behind the contract views cohort.participants, cohort.outcomes,
-- marts.population_estimates and marts.association_estimates (published like the exposures).
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS sex VARCHAR;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS age_years DOUBLE;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS race_ethnicity VARCHAR;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS income_poverty_ratio DOUBLE;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS pregnant BOOLEAN;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS "cycle" VARCHAR;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS stratum BIGINT;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS psu BIGINT;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS wt_interview DOUBLE;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS wt_mec DOUBLE;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS wt_day1 DOUBLE;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS wt_two_day DOUBLE;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS has_usable_recall BOOLEAN;
ALTER TABLE store.participants ADD COLUMN IF NOT EXISTS extra_attributes VARCHAR;
COMMENT ON COLUMN store.participants.sex IS 'male | female (NHANES RIAGENDR, or the mapped column); NULL when no attribute table gives it.';
COMMENT ON COLUMN store.participants.age_years IS 'Age in years at screening (NHANES RIDAGEYR: 80 means 80 and over).';
COMMENT ON COLUMN store.participants.race_ethnicity IS 'Race/Hispanic origin (NHANES RIDRETH3, else RIDRETH1, as the codebook labels it).';
COMMENT ON COLUMN store.participants.income_poverty_ratio IS 'Family income to poverty ratio (NHANES INDFMPIR: 5 means 5 and over).';
COMMENT ON COLUMN store.participants.pregnant IS 'TRUE pregnant, FALSE not (men are FALSE), NULL unknown (NHANES RIDEXPRG is asked of women 20-44).';
COMMENT ON COLUMN store.participants."cycle" IS 'Survey cycle, e.g. 2017-2018 (NHANES SDDSRVYR).';
COMMENT ON COLUMN store.participants.stratum IS 'Masked variance stratum (NHANES SDMVSTRA).';
COMMENT ON COLUMN store.participants.psu IS 'Masked variance PSU, nested in its stratum (NHANES SDMVPSU).';
COMMENT ON COLUMN store.participants.wt_interview IS 'Interview weight (WTINT2YR; WTINTPRP in 2017-March 2020).';
COMMENT ON COLUMN store.participants.wt_mec IS 'Examination (MEC) weight (WTMEC2YR; WTMECPRP); 0 = interviewed, not examined.';
COMMENT ON COLUMN store.participants.wt_day1 IS 'Day-1 dietary weight (WTDRD1; WTDRD1PP, or a tabular spec''s columns.wt_day1) from the diary files that carry it, read once with the diary.';
COMMENT ON COLUMN store.participants.wt_two_day IS 'Two-day dietary weight (WTDR2D; WTDR2DPP) from the diary files that carry it; 0 = no usable day 2.';
COMMENT ON COLUMN store.participants.has_usable_recall IS 'TRUE when the participant has at least one included recall day; FALSE participants (those the diary files give only a dietary weight for, or whose every recall was excluded) stay for domain estimation.';
COMMENT ON COLUMN store.participants.extra_attributes IS 'Other attributes that a tabular participants table maps, as a JSON object (name -> text value).';

CREATE TABLE IF NOT EXISTS store.outcomes (
    cohort VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, outcome_id VARCHAR NOT NULL, value DOUBLE,
    unit VARCHAR, sample_type VARCHAR, assay VARCHAR, extraction VARCHAR, kit VARCHAR, lod DOUBLE,
    below_lod BOOLEAN, fasting BOOLEAN, collected_at VARCHAR);
COMMENT ON TABLE store.outcomes IS 'One row per outcome measurement (PHQ-9 from NHANES DPQ, oxytocin samples, any registered outcome).';
COMMENT ON COLUMN store.outcomes.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.outcomes.participant_id IS 'Participant id as in cohort.participants.';
COMMENT ON COLUMN store.outcomes.outcome_id IS 'Outcome id (reference.outcomes).';
COMMENT ON COLUMN store.outcomes.value IS 'Value in the registry unit (oxytocin converted to pg/mL: 1 pmol/L = 1.007 pg/mL); phq9_ge10 is 0/1.';
COMMENT ON COLUMN store.outcomes.unit IS 'Unit of value (reference.outcomes.unit).';
COMMENT ON COLUMN store.outcomes.sample_type IS 'plasma | serum | saliva | urine (lower case, as mapped); NULL for questionnaires.';
COMMENT ON COLUMN store.outcomes.assay IS 'Assay platform (eia/elisa, ria, lc-ms/ms), lower case as mapped.';
COMMENT ON COLUMN store.outcomes.extraction IS 'Sample extraction before the assay (none, solid-phase, ultrafiltration).';
COMMENT ON COLUMN store.outcomes.kit IS 'Kit or vendor.';
COMMENT ON COLUMN store.outcomes.lod IS 'Limit of detection or lower limit of quantification, in the unit of value.';
COMMENT ON COLUMN store.outcomes.below_lod IS 'TRUE when the sample read below the LOD.';
COMMENT ON COLUMN store.outcomes.fasting IS 'TRUE when the sample was taken fasting.';
COMMENT ON COLUMN store.outcomes.collected_at IS 'Collection time as given (text).';

CREATE TABLE IF NOT EXISTS reference.outcomes (
    outcome_id VARCHAR PRIMARY KEY, name VARCHAR, unit VARCHAR, kind VARCHAR, low DOUBLE, high DOUBLE);
COMMENT ON TABLE reference.outcomes IS 'Outcome registry (data/reference/outcomes.csv).';
COMMENT ON COLUMN reference.outcomes.outcome_id IS 'Outcome id.';
COMMENT ON COLUMN reference.outcomes.name IS 'What the outcome is.';
COMMENT ON COLUMN reference.outcomes.unit IS 'Unit values are stored in.';
COMMENT ON COLUMN reference.outcomes.kind IS 'continuous | binary | score.';
COMMENT ON COLUMN reference.outcomes.low IS 'Lowest valid value.';
COMMENT ON COLUMN reference.outcomes.high IS 'Highest valid value.';

CREATE TABLE IF NOT EXISTS store.population_estimates (
    cohort VARCHAR NOT NULL, analysis_id VARCHAR NOT NULL, variable VARCHAR, statistic VARCHAR, quantile DOUBLE,
    subpopulation VARCHAR, domain VARCHAR, domain_value VARCHAR, estimate DOUBLE, se DOUBLE, ci_low DOUBLE,
    ci_high DOUBLE, n BIGINT, df BIGINT, weight VARCHAR, method VARCHAR, reliability_flag VARCHAR);
COMMENT ON TABLE store.population_estimates IS 'Survey-weighted estimates of kind: estimates analyses (Taylor linearisation with svy).';
COMMENT ON COLUMN store.population_estimates.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.population_estimates.analysis_id IS 'Analysis id (data/analyses/ID.yaml or inline).';
COMMENT ON COLUMN store.population_estimates.variable IS 'Variable estimated (numerator/denominator for a ratio).';
COMMENT ON COLUMN store.population_estimates.statistic IS 'mean | proportion | ratio | quantile.';
COMMENT ON COLUMN store.population_estimates.quantile IS 'Probability of a quantile (svy "higher" rule = R svyquantile qrule "math"); NULL otherwise.';
COMMENT ON COLUMN store.population_estimates.subpopulation IS 'all, or the method stratum of an oxytocin estimate.';
COMMENT ON COLUMN store.population_estimates.domain IS 'Domain variables (by), "all" when none; the analysis domain is in the analysis file.';
COMMENT ON COLUMN store.population_estimates.domain_value IS 'Domain level, e.g. female or 20-39 x male.';
COMMENT ON COLUMN store.population_estimates.estimate IS 'Point estimate.';
COMMENT ON COLUMN store.population_estimates.se IS 'Standard error (Taylor linearisation, PSUs in strata, with replacement).';
COMMENT ON COLUMN store.population_estimates.ci_low IS 'Lower 95 % limit (Korn-Graubard for proportions, Woodruff for quantiles, t on df otherwise).';
COMMENT ON COLUMN store.population_estimates.ci_high IS 'Upper 95 % limit.';
COMMENT ON COLUMN store.population_estimates.n IS 'Participants with a value in the domain and the weight''s subsample.';
COMMENT ON COLUMN store.population_estimates.df IS 'Design degrees of freedom (PSUs - strata).';
COMMENT ON COLUMN store.population_estimates.weight IS 'Weight used (wt_two_day, wt_day1, wt_mec, wt_interview or the named one; / k when k cycles are pooled).';
COMMENT ON COLUMN store.population_estimates.method IS 'Variance method, svy version and the lonely-PSU rule with its strata.';
COMMENT ON COLUMN store.population_estimates.reliability_flag IS 'NCHS presentation standard: why to suppress, footnote or review; NULL when the estimate may be shown.';

CREATE TABLE IF NOT EXISTS store.association_estimates (
    cohort VARCHAR NOT NULL, hypothesis_id VARCHAR NOT NULL, exposure VARCHAR, exposure_scale VARCHAR,
    contrast VARCHAR, outcome VARCHAR, model VARCHAR, covariates VARCHAR, subpopulation VARCHAR, estimate DOUBLE,
    se DOUBLE, ci_low DOUBLE, ci_high DOUBLE, p_value DOUBLE, p_trend DOUBLE, n BIGINT, df BIGINT, weight VARCHAR,
    method VARCHAR, status VARCHAR);
COMMENT ON TABLE store.association_estimates IS 'Survey-weighted regressions of kind: association hypotheses, one row per exposure contrast.';
COMMENT ON COLUMN store.association_estimates.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.association_estimates.hypothesis_id IS 'The analysis id of the hypothesis.';
COMMENT ON COLUMN store.association_estimates.exposure IS 'Component id of the exposure.';
COMMENT ON COLUMN store.association_estimates.exposure_scale IS 'mean_daily | per_1000kcal | usual (the predicted usual intake of marts.participant_usual_intake: regression calibration).';
COMMENT ON COLUMN store.association_estimates.contrast IS 'Group against the lowest (Q5 vs Q1, T3 vs T1), consumers vs non-consumers, or per unit.';
COMMENT ON COLUMN store.association_estimates.outcome IS 'Outcome id (oxytocin is modelled on the natural log scale).';
COMMENT ON COLUMN store.association_estimates.model IS 'logistic (estimate = log odds ratio; OR = exp) | linear.';
COMMENT ON COLUMN store.association_estimates.covariates IS 'Covariates adjusted for (those the cohort has), comma-separated.';
COMMENT ON COLUMN store.association_estimates.subpopulation IS 'all, or the oxytocin method (sample type/assay/extraction): methods are never pooled.';
COMMENT ON COLUMN store.association_estimates.estimate IS 'Regression coefficient of the contrast.';
COMMENT ON COLUMN store.association_estimates.se IS 'Design-based standard error.';
COMMENT ON COLUMN store.association_estimates.ci_low IS 'Lower 95 % limit (t on the model''s df).';
COMMENT ON COLUMN store.association_estimates.ci_high IS 'Upper 95 % limit.';
COMMENT ON COLUMN store.association_estimates.p_value IS 'Wald p of the contrast.';
COMMENT ON COLUMN store.association_estimates.p_trend IS 'Wald p of the group medians as one continuous term (quintiles, tertiles).';
COMMENT ON COLUMN store.association_estimates.n IS 'Participants in the model (domain, weight > 0, complete cases).';
COMMENT ON COLUMN store.association_estimates.df IS 'Degrees of freedom: design df minus the model''s terms plus one (as R svyglm).';
COMMENT ON COLUMN store.association_estimates.weight IS 'Weight used (see population_estimates.weight).';
COMMENT ON COLUMN store.association_estimates.method IS 'Variance method, svy version and lonely-PSU rule.';
COMMENT ON COLUMN store.association_estimates.status IS 'estimated, or "not computable: missing X" (the cohort lacks the exposure or outcome).';

-- Usual intake (NCI method; gutaxis.analysis.usual_intake), staged with the analysis and published with it.
CREATE TABLE IF NOT EXISTS store.usual_intake_distribution (
    cohort VARCHAR NOT NULL, component_id VARCHAR NOT NULL, domain VARCHAR, domain_value VARCHAR, percentile DOUBLE,
    value DOUBLE, se DOUBLE, mean DOUBLE, model VARCHAR, "lambda" DOUBLE, var_within DOUBLE, var_between DOUBLE,
    n_persons BIGINT, n_with_repeat BIGINT, unit VARCHAR, status VARCHAR, var_between_probability DOUBLE,
    corr_between DOUBLE, model_reason VARCHAR);
COMMENT ON TABLE store.usual_intake_distribution IS 'Usual-intake distributions by the NCI method (MIXTRAN/DISTRIB-type): one row per percentile of a component, scale and domain; one row with the reason where no model could be fitted.';
COMMENT ON COLUMN store.usual_intake_distribution.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.usual_intake_distribution.component_id IS 'Component id (reference.components).';
COMMENT ON COLUMN store.usual_intake_distribution.domain IS 'Domain variable (a participant attribute of usual_intake domains), or all.';
COMMENT ON COLUMN store.usual_intake_distribution.domain_value IS 'Domain level, or all.';
COMMENT ON COLUMN store.usual_intake_distribution.percentile IS 'Percentile, 1-99 (P1, P5, P10, P25, P50, P75, P90, P95, P99); NULL on a not-estimable row.';
COMMENT ON COLUMN store.usual_intake_distribution.value IS 'Usual intake at that percentile, in unit.';
COMMENT ON COLUMN store.usual_intake_distribution.se IS 'Standard error of value: Fay BRR (factor 0.3) from the design''s strata and PSUs, else a bootstrap over persons; NULL when no replicates were asked for.';
COMMENT ON COLUMN store.usual_intake_distribution.mean IS 'Mean usual intake of the domain, in unit (the same on every percentile row).';
COMMENT ON COLUMN store.usual_intake_distribution.model IS 'one-part | two-part | none (not estimable).';
COMMENT ON COLUMN store.usual_intake_distribution."lambda" IS 'Box-Cox lambda of the amount model, chosen by maximum likelihood.';
COMMENT ON COLUMN store.usual_intake_distribution.var_within IS 'Within-person variance on the transformed scale (REML; the amount part of a two-part model).';
COMMENT ON COLUMN store.usual_intake_distribution.var_between IS 'Between-person variance on the transformed scale (REML); > 0 on every estimated row.';
COMMENT ON COLUMN store.usual_intake_distribution.n_persons IS 'Persons in the domain that the model used.';
COMMENT ON COLUMN store.usual_intake_distribution.n_with_repeat IS 'Of them, persons with 2 or more recalls.';
COMMENT ON COLUMN store.usual_intake_distribution.unit IS 'Unit of value and mean: the component''s unit per day, or per 1000 kcal (the daily density, modelled on its own).';
COMMENT ON COLUMN store.usual_intake_distribution.var_between_probability IS 'Two-part model: between-person variance of the probability part (logit scale); NULL for one-part.';
COMMENT ON COLUMN store.usual_intake_distribution.corr_between IS 'Two-part model: correlation of the person effects of the probability and amount parts; NULL for one-part.';
COMMENT ON COLUMN store.usual_intake_distribution.model_reason IS 'Why this model: the share of days with none eaten against the two-part threshold, or a model forced by the spec.';
COMMENT ON COLUMN store.usual_intake_distribution.status IS 'estimated, or "not estimable: <reason>" (too few persons with a repeat recall, all days zero, a domain too small, no convergence, between-person variance 0).';

CREATE TABLE IF NOT EXISTS store.participant_usual_intake (
    cohort VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, component_id VARCHAR NOT NULL, usual_intake DOUBLE,
    unit VARCHAR, method VARCHAR);
COMMENT ON TABLE store.participant_usual_intake IS 'Each participant''s predicted usual intake (INDIVINT-type): for regression calibration (hypotheses with scale: usual).';
COMMENT ON COLUMN store.participant_usual_intake.cohort IS 'Cohort name.';
COMMENT ON COLUMN store.participant_usual_intake.participant_id IS 'Participant id (as in cohort.participants).';
COMMENT ON COLUMN store.participant_usual_intake.component_id IS 'Component id (reference.components).';
COMMENT ON COLUMN store.participant_usual_intake.usual_intake IS 'Conditional expectation of the person''s usual intake given their recalls and covariates, per day, in unit.';
COMMENT ON COLUMN store.participant_usual_intake.unit IS 'Unit per day (reference.components.unit).';
COMMENT ON COLUMN store.participant_usual_intake.method IS 'Model (NCI one-part or two-part) and its covariates: an outcome model using this value must adjust for no covariate outside them.';
