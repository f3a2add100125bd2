# sva::ComBat on Testing/data/combat/{features,clinical}.csv (made by combatReference.py).
# Covariates: age (numeric) and grade (factor, treatment coding). Writes sva_<variant>.csv
# (patient + harmonized features, 17 significant digits) and sva_session.txt.
# Usage: Rscript scripts/combatReference.R OUTDIR
suppressPackageStartupMessages(library(sva))
args <- commandArgs(trailingOnly = TRUE)
outDir <- if (length(args) > 0) args[1] else "Testing/data/combat"
features <- read.csv(file.path(outDir, "features.csv"), stringsAsFactors = FALSE, colClasses = c(patient = "character"))
clinical <- read.csv(file.path(outDir, "clinical.csv"), stringsAsFactors = FALSE, colClasses = c(patient = "character"))
stopifnot(identical(features$patient, clinical$patient))
dat <- t(as.matrix(features[, -1]))            # sva wants features x cases
clinical$grade <- factor(clinical$grade)
mod <- model.matrix(~ age + grade, data = clinical)
variants <- list(
  parametric = list(par.prior = TRUE, mean.only = FALSE, ref.batch = NULL),
  nonparametric = list(par.prior = FALSE, mean.only = FALSE, ref.batch = NULL),
  meanonly = list(par.prior = TRUE, mean.only = TRUE, ref.batch = NULL),
  reference = list(par.prior = TRUE, mean.only = FALSE, ref.batch = "B"),
  reference_nonparametric = list(par.prior = FALSE, mean.only = FALSE, ref.batch = "B"),
  reference_meanonly = list(par.prior = TRUE, mean.only = TRUE, ref.batch = "B")
)
for (name in names(variants)) {
  v <- variants[[name]]
  out <- suppressMessages(ComBat(dat = dat, batch = clinical$site, mod = mod, par.prior = v$par.prior,
                                 mean.only = v$mean.only, ref.batch = v$ref.batch))
  table <- data.frame(patient = features$patient, t(out), check.names = FALSE)
  table[, -1] <- lapply(table[, -1], function(x) sprintf("%.17g", x))
  write.csv(table, file.path(outDir, paste0("sva_", name, ".csv")), row.names = FALSE, quote = FALSE)
}
writeLines(c(R.version.string, paste("sva", as.character(packageVersion("sva")))), file.path(outDir, "sva_session.txt"))
