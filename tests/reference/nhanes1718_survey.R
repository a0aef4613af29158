# Reference values from R `survey` for tests/test_survey_estimates.py (which never needs R).
#
#   Rscript tests/reference/nhanes1718_survey.R [REALDATA_NHANES_2017_2018_DIR]
#
# Reads the real NHANES 2017-2018 files (DEMO_J.xpt, DPQ_J.xpt, fped_dr1tot_1718.sas7bdat; default
# ../shared/realdata/nhanes/2017-2018 beside the checkout) with haven, computes the estimates below with
# survey, and writes tests/reference/nhanes1718_survey.csv with R's and survey's versions on every row.
# Debian: apt-get install r-cran-survey r-cran-haven.
#
# Design: SDMVPSU nested in SDMVSTRA, with replacement (svydesign ids/strata/nest = TRUE), every DEMO
# participant in the design; an estimate's subpopulation is a domain (subset() of the design, which
# keeps every PSU), never a subset of the data. Strata with one PSU: survey.lonely.psu = "adjust".
# CIs: t on the domain's design df, degf() (PSUs minus strata holding domain members); for proportions
# Korn-Graubard's.
# Quantiles: qrule = "math" (the smallest value whose weighted CDF reaches p) with Woodruff's interval,
# interval.type = "mean"; se is the interval's half-width over the t quantile.
suppressMessages({library(survey); library(haven)})
options(survey.lonely.psu = "adjust")

args <- commandArgs(trailingOnly = TRUE)
here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))))
data_dir <- if (length(args)) args[1] else file.path(here, "..", "..", "..", "shared", "realdata", "nhanes", "2017-2018")
out_csv <- file.path(here, "nhanes1718_survey.csv")

demo <- as.data.frame(read_xpt(file.path(data_dir, "DEMO_J.xpt")))
dpq <- as.data.frame(read_xpt(file.path(data_dir, "DPQ_J.xpt")))
fped <- as.data.frame(read_sas(file.path(data_dir, "fped_dr1tot_1718.sas7bdat")))

# PHQ-9: items 0-3; 7 (refused) and 9 (don't know) missing; the total only when all nine are answered.
items <- sprintf("DPQ0%d0", 1:9)
answers <- as.matrix(dpq[, items])
answers[!(answers %in% 0:3)] <- NA
dpq$phq9_total <- ifelse(rowSums(is.na(answers)) == 0, rowSums(answers), NA)
dpq$phq9_ge10 <- as.numeric(dpq$phq9_total >= 10)

d <- merge(demo, dpq[, c("SEQN", "phq9_total", "phq9_ge10")], by = "SEQN", all.x = TRUE)
d <- merge(d, fped[, c("SEQN", "WTDRD1", "DR1DRSTZ", "DR1T_D_YOGURT", "DR1T_D_TOTAL", "DR1T_F_TOTAL")], by = "SEQN", all.x = TRUE)
d$WTDRD1[is.na(d$WTDRD1)] <- 0  # outside the dietary subsample
d$sex <- factor(ifelse(d$RIAGENDR == 1, "male", "female"), levels = c("male", "female"))
# Age groups of NCHS's depression reports (Brody et al., NCHS Data Brief 303, 2018).
d$age_group <- cut(d$RIDAGEYR, c(20, 40, 60, Inf), right = FALSE, labels = c("20-39", "40-59", "60+"))
d$yogurt_consumer <- as.numeric(d$DR1T_D_YOGURT > 0)
d$adult <- d$RIDAGEYR >= 20
d$day1 <- !is.na(d$DR1DRSTZ) & d$DR1DRSTZ == 1

mec <- svydesign(ids = ~SDMVPSU, strata = ~SDMVSTRA, weights = ~WTMEC2YR, nest = TRUE, data = d)
day1 <- svydesign(ids = ~SDMVPSU, strata = ~SDMVSTRA, weights = ~WTDRD1, nest = TRUE, data = d)

rows <- list()
add <- function(check, variable, statistic, domain, domain_value, estimate, se, ci_low = NA, ci_high = NA,
                n = NA, df = NA, quantile = NA, term = NA, p_value = NA) {
  rows[[length(rows) + 1]] <<- data.frame(
    check = check, variable = variable, statistic = statistic, quantile = quantile, domain = domain,
    domain_value = domain_value, term = term, estimate = unname(estimate), se = unname(se),
    ci_low = unname(ci_low), ci_high = unname(ci_high), n = n, df = df, p_value = unname(p_value),
    stringsAsFactors = FALSE)
}

# The Korn-Graubard interval of the NCHS presentation standards for proportions (Parker et al., Vital
# Health Stat 2(175), 2017): Clopper-Pearson on the effective sample size p(1-p)/var, scaled by
# (t[n-1] / t[df])^2 and then capped at the domain's n. svyciprop(method = "beta") is the same without
# the cap, which binds where the design effect is below 1 (e.g. NHANES 2017-18 men aged 20-39).
korn_graubard_nchs <- function(p, variance, n, df, level = 0.95) {
  tail <- (1 - level) / 2
  n_eff <- min(n, p * (1 - p) / variance * (qt(tail, n - 1) / qt(tail, df))^2)
  successes <- n_eff * p
  unname(c(qbeta(tail, successes, n_eff - successes + 1), qbeta(1 - tail, successes + 1, n_eff - successes)))
}

# A mean (or a 0/1 proportion) in the domain `keep` of `design`.
domain_mean <- function(check, design, variable, statistic, keep, domain, domain_value) {
  keep <- keep & !is.na(design$variables[[variable]])
  sub <- design[keep, ]  # `[` on a survey design keeps every PSU: domain estimation
  m <- svymean(as.formula(paste0("~", variable)), sub)
  df <- degf(sub)
  ci <- confint(m, df = df)
  if (statistic == "proportion") ci <- korn_graubard_nchs(coef(m), vcov(m), nrow(sub), df)
  add(check, variable, statistic, domain, domain_value, coef(m), SE(m), ci[1], ci[2],
      n = sum(keep & weights(design) > 0), df = df)
}

phq_adults <- d$adult & !is.na(d$phq9_ge10)
domain_mean("phq9_ge10_adults", mec, "phq9_ge10", "proportion", phq_adults, "all", "all")
for (s in levels(d$sex))
  domain_mean("phq9_ge10_by_sex", mec, "phq9_ge10", "proportion", phq_adults & d$sex == s, "sex", s)
for (a in levels(d$age_group)) for (s in levels(d$sex))
  domain_mean("phq9_ge10_by_age_group_sex", mec, "phq9_ge10", "proportion",
              phq_adults & !is.na(d$age_group) & d$age_group == a & d$sex == s,
              "age_group x sex", paste(a, "x", s))
for (s in levels(d$sex))
  domain_mean("yogurt_day1_by_sex", day1, "DR1T_D_YOGURT", "mean", d$adult & d$day1 & d$sex == s, "sex", s)

# A ratio of means: the share of day-1 dairy cup-equivalents that is yogurt, by sex.
for (s in levels(d$sex)) {
  keep <- d$adult & d$day1 & d$sex == s
  sub <- day1[keep, ]
  r <- svyratio(~DR1T_D_YOGURT, ~DR1T_D_TOTAL, sub)
  df <- degf(sub)
  ci <- confint(r, df = df)
  add("yogurt_share_of_dairy_day1_by_sex", "DR1T_D_YOGURT/DR1T_D_TOTAL", "ratio", "sex", s, coef(r), SE(r),
      ci[1], ci[2], n = sum(keep & weights(day1) > 0), df = df)
}

# Quantiles (qrule "math", Woodruff interval "mean", t on the domain's df).
quantile_rows <- function(check, design, variable, keep, probs) {
  keep <- keep & !is.na(design$variables[[variable]])
  sub <- design[keep, ]
  df <- degf(sub)
  q <- svyquantile(as.formula(paste0("~", variable)), sub, probs, qrule = "math", interval.type = "mean",
                   ci = TRUE, se = TRUE, df = df)[[1]]
  for (i in seq_along(probs))
    add(check, variable, "quantile", "all", "all", q[i, "quantile"], q[i, "se"], q[i, "ci.2.5"],
        q[i, "ci.97.5"], n = sum(keep & weights(design) > 0), df = df, quantile = probs[i])
}
quantile_rows("fruit_day1_quantiles", day1, "DR1T_F_TOTAL", d$adult & d$day1, c(0.25, 0.5, 0.9))
quantile_rows("phq9_total_quantiles", mec, "phq9_total", d$adult, c(0.5, 0.9))

# Survey-weighted regressions on the day-1 dietary sample of adults with a complete PHQ-9.
# t tests and CIs of each coefficient on the design df of the model's rows, degf() (PSUs minus strata), as
# the NCHS analytic guidelines and SUDAAN / Stata / SAS do; svyglm's own default, df.residual = degf() -
# coefficients + 1, leaves 2 df to a fully adjusted NHANES model (see the README, "Degrees of freedom").
model_keep <- d$adult & d$day1 & !is.na(d$phq9_ge10)
model_rows <- function(check, outcome, fit, keep, design) {
  df <- degf(fit$survey.design)
  co <- summary(fit, df.resid = df)$coefficients
  ci <- confint(fit, ddf = df)
  for (term in rownames(co))
    add(check, outcome, "regression", "all", "all", co[term, 1], co[term, 2], ci[term, 1], ci[term, 2],
        n = sum(keep & weights(design) > 0), df = df, term = term, p_value = co[term, 4])
}
sub <- day1[model_keep, ]
# IRLS to a deviance change of 1e-12 (glm's default 1e-8 stops ~1e-6 short of the maximum in the
# logistic fit, the size of the tolerance the test holds svy to); svy is run to the same convergence.
converged <- glm.control(epsilon = 1e-12, maxit = 100)
model_rows("logistic_phq9_ge10_yogurt", "phq9_ge10",
           svyglm(phq9_ge10 ~ yogurt_consumer + RIDAGEYR + sex, sub, family = quasibinomial(), control = converged), model_keep, day1)
model_rows("linear_phq9_total_yogurt", "phq9_total",
           svyglm(phq9_total ~ yogurt_consumer + RIDAGEYR + sex, sub, family = gaussian(), control = converged), model_keep, day1)

# A stratum with one PSU (stratum 3): "adjust" centres its PSU total on the grand mean; "average" and
# "remove", the other rules gutaxis accepts, for comparison. The same rows are built in the test.
lonely <- data.frame(
  stratum = c(1, 1, 1, 1, 2, 2, 2, 2, 3, 3),
  psu     = c(1, 1, 2, 2, 1, 1, 2, 2, 1, 1),
  weight  = c(10, 12, 8, 15, 20, 18, 9, 11, 30, 25),
  y       = c(3.1, 4.2, 2.8, 5.0, 6.3, 5.9, 4.4, 3.7, 7.5, 8.1))
for (rule in c("adjust", "average", "remove")) {
  options(survey.lonely.psu = rule)
  des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = lonely)
  m <- svymean(~y, des)
  add(paste0("lonely_psu_", rule), "y", "mean", "all", "all", coef(m), SE(m), n = nrow(lonely), df = degf(des))
  t <- svytotal(~y, des)
  add(paste0("lonely_psu_", rule), "y", "total", "all", "all", coef(t), SE(t), n = nrow(lonely), df = degf(des))
}
options(survey.lonely.psu = "adjust")

# A domain (member == 1) absent from PSU 3 of stratum 1 and from all of stratum 3: as a domain, every PSU
# stays and stratum 1's variance is over its three PSU totals (one of them 0); the data cut to the domain
# first leaves stratum 1 with two PSUs and gives another SE.
cut_first <- data.frame(
  stratum = rep(1:3, each = 6),
  psu     = c(1, 1, 2, 2, 3, 3, 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2),
  weight  = c(5, 7, 6, 8, 4, 9, 10, 12, 11, 6, 7, 8, 3, 5, 4, 6, 2, 7),
  y       = c(1.2, 2.3, 1.9, 3.1, 2.2, 2.8, 4.0, 3.6, 4.4, 2.9, 3.3, 3.0, 5.1, 4.7, 5.5, 4.9, 5.2, 4.8),
  member  = c(1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0))
des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = cut_first)
m <- svymean(~y, subset(des, member == 1))
add("domain_not_subset", "y", "mean", "member", "1 (domain)", coef(m), SE(m), n = sum(cut_first$member),
    df = degf(subset(des, member == 1)))
cut <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE,
                 data = cut_first[cut_first$member == 1, ])
m <- svymean(~y, cut)
add("domain_not_subset", "y", "mean", "member", "1 (data cut first)", coef(m), SE(m),
    n = sum(cut_first$member), df = degf(cut))

# The same domain without PSU 2 of stratum 2: its members sit in one PSU of that stratum. As in R's
# default (survey.adjust.domain.lonely = FALSE), the PSU without members still counts (a zero total) and
# the stratum is not treated as lonely.
keep <- cut_first$member == 1 & !(cut_first$stratum == 2 & cut_first$psu == 2)
m <- svymean(~y, des[keep, ])
add("domain_in_one_psu_of_a_stratum", "y", "mean", "member", "1 (domain)", coef(m), SE(m), n = sum(keep),
    df = degf(des[keep, ]))

out <- do.call(rbind, rows)
out$r_version <- paste(R.version$major, R.version$minor, sep = ".")
out$survey_version <- as.character(packageVersion("survey"))
out$haven_version <- as.character(packageVersion("haven"))
write.csv(out, out_csv, row.names = FALSE, na = "")
cat("wrote", nrow(out), "rows to", out_csv, "\n")
