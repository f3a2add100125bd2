"""The cohort page's sections about the cases: their status, quality-control flags, failures, segmentation QA,
harmonization effect and feature exploration. Each returns HTML."""

from __future__ import annotations

import numpy as np
import pandas as pd

from VirtualBiopsy.cohort.report import html
from VirtualBiopsy.cohort.report.cohortFigures import correlationFigure, qaDistributionFigure, siteEffectFigure
from VirtualBiopsy.cohort.report.figureStyle import featureUnit
from VirtualBiopsy.cohort.report.runFolder import (
    CHECK,
    COMBAT_FEATURES,
    FAILURES,
    FEATURES,
    SEGMENTATION_QA,
    RunFolder,
)
from VirtualBiopsy.cohort.report.runSettings import analysisAbsence, analysisSettings

#: Absolute Spearman correlation above which two features are called redundant.
CORRELATION_THRESHOLD = 0.9
#: Rows of the most-variable-features table.
TOP_FEATURES = 10


def patientLink(patient: object) -> str:
    """A link to the patient's page."""
    return html.link(f"patients/{html.patientFileName(str(patient))}", str(patient))


def caseRows(run: RunFolder) -> pd.DataFrame:
    """One row per case (``cases/*/case.json``, plus the patients ``failures.csv`` names without a case folder)."""
    rows = []
    for case in run.cases:
        summary = case.summary
        warnings = summary.get("domainWarnings") or []
        rows.append(
            {
                "patient": case.patient,
                "site": summary.get("site"),
                "status": case.status,
                "failed stage": summary.get("failedStage"),
                "error": summary.get("error") or case.problem,
                "volume (mm³)": summary.get("volumeMm3"),
                "Dice": summary.get("dice"),
                "HD95 (mm)": summary.get("hausdorff95Mm"),
                "domain warnings": len(warnings) if isinstance(warnings, list) else 0,
            }
        )
    known = {row["patient"] for row in rows}
    if run.failures is not None and "patient" in run.failures.columns:
        for failure in run.failures.itertuples(index=False):
            patient = str(getattr(failure, "patient"))
            if patient not in known:
                known.add(patient)
                rows.append(
                    {
                        "patient": patient,
                        "status": "failed",
                        "failed stage": getattr(failure, "stage", None),
                        "error": getattr(failure, "error", None),
                    }
                )
    columns = [
        "patient",
        "site",
        "status",
        "failed stage",
        "error",
        "volume (mm³)",
        "Dice",
        "HD95 (mm)",
        "domain warnings",
    ]
    return pd.DataFrame(rows, columns=columns).astype({"volume (mm³)": float, "Dice": float, "HD95 (mm)": float})


def casesSection(run: RunFolder) -> str:
    """Headline counts and the table of every case with its status."""
    rows = caseRows(run)
    if rows.empty:
        return html.notice("No cases yet: the run folder has no cases/<patient>/case.json and no failures.csv.")
    counts = rows["status"].value_counts()
    headline = html.cards(
        [("cases", str(len(rows))), ("done", str(counts.get("done", 0))), ("failed", str(counts.get("failed", 0)))]
        + [(f"{status}", str(n)) for status, n in counts.items() if status not in ("done", "failed")]
    )
    linked = {str(case.patient) for case in run.cases}
    table = html.table(
        rows,
        cellHtml={
            "patient": lambda p: patientLink(p) if str(p) in linked else html.escape(p),
            "status": lambda s: html.statusLabel(str(s)),
        },
    )
    return headline + table


def qcSection(run: RunFolder) -> str:
    """The cohort check's problems (``check.csv``) and the AI model's domain warnings per case."""
    parts = [html.paragraph("Problems the cohort check found before any computation (check.csv):")]
    if run.checks is None:
        parts.append(html.notice(run.problems.get(CHECK, f"{CHECK} is absent: the cohort check has not run.")))
    elif run.checks.empty:
        parts.append(html.notice("The cohort check found no problems.", "info"))
    else:
        severities = run.checks.get("severity", pd.Series(dtype=str)).value_counts()
        parts.append(
            html.paragraph(f"{severities.get('error', 0)} error(s), {severities.get('warning', 0)} warning(s).")
        )
        shown = [c for c in ("severity", "scope", "patient", "row", "column", "value", "message") if c in run.checks]
        parts.append(html.table(run.checks[shown], cellHtml={"severity": lambda s: html.statusLabel(str(s))}))
    warnings = [
        {"patient": case.patient, "domain warning": str(text)}
        for case in run.cases
        for text in (case.summary.get("domainWarnings") or [])
    ]
    parts.append(html.paragraph("Images outside the segmentation model's training domain (case.json domainWarnings):"))
    if warnings:
        parts.append(html.table(pd.DataFrame(warnings), cellHtml={"patient": patientLink}))
    else:
        parts.append(html.notice("No case has a domain warning.", "info"))
    return "\n".join(parts)


def failuresSection(run: RunFolder) -> str:
    """Every failed case with its stage and reason."""
    rows = caseRows(run)
    failed = rows[rows["status"] == "failed"][["patient", "failed stage", "error"]]
    parts = []
    if run.failures is None:
        parts.append(
            html.notice(run.problems.get(FAILURES, f"{FAILURES} is absent: the run has not finished a round."))
        )
    if failed.empty:
        parts.append(html.notice("No case failed.", "info"))
    else:
        parts.append(html.table(failed.rename(columns={"failed stage": "stage"}), cellHtml={"patient": patientLink}))
    return "\n".join(parts)


def segmentationQaSection(run: RunFolder) -> str:
    """Dice and HD95 of the automatic segmentations against the reference masks."""
    qa = run.segmentationQa
    if qa is None:
        source = analysisSettings(run, "segment").get("source") or (run.settings or {}).get("segment", {}).get("source")
        if source and source != "both":
            return html.notice(
                f"Segmentation QA: not measured (segment.source is '{source}'; set it to 'both' to compare the "
                "segmentations with the manifest's masks)."
            )
        return html.notice(run.problems.get(SEGMENTATION_QA, f"Segmentation QA: {SEGMENTATION_QA} is absent."))
    metrics = [("dice", "Dice"), ("hausdorff95Mm", "HD95 (mm)")]
    summary = []
    for column, label in metrics:
        values = pd.to_numeric(qa.get(column, pd.Series(dtype=float)), errors="coerce").dropna()
        summary.append(
            {
                "metric": label,
                "n": len(values),
                "mean": values.mean(),
                "median": values.median(),
                "min": values.min(),
                "max": values.max(),
            }
        )
    names = {
        "dice": "Dice",
        "hausdorff95Mm": "HD95 (mm)",
        "volumeMm3": "volume (mm³)",
        "referenceVolumeMm3": "reference volume (mm³)",
    }
    detail = qa.rename(columns=names)
    return "\n".join(
        [
            html.table(pd.DataFrame(summary)),
            html.figure(
                qaDistributionFigure(qa),
                "Distribution of Dice and HD95 over the cohort",
                "Each dot is a patient; boxes show the quartiles and the median.",
            ),
            html.table(detail, cellHtml={"patient": patientLink}),
        ]
    )


def harmonizationSection(run: RunFolder) -> str:
    """Site differences of every feature before and after ComBat, where the run measured them."""
    absence = analysisAbsence(run, "combat", "ComBat harmonization")
    if run.combatFeatures is None or run.features is None:
        reason = absence or f"{COMBAT_FEATURES} is absent, so the harmonization's effect was not measured in this run."
        return html.notice(f"{reason} The features are shown as extracted.", "info")
    sites = _sites(run)
    pBefore: list[float] = []
    pAfter: list[float] = []
    from scipy.stats import kruskal

    for name in run.combatFeatures.columns.intersection(run.features.columns):
        samples = []
        for table in (run.features, run.combatFeatures):
            values = pd.to_numeric(table[name], errors="coerce").dropna()
            groups = [values[values.index.isin(sites[sites == s].index)].to_numpy() for s in sites.unique()]
            samples.append([g for g in groups if len(g) >= 2])
        if min(len(s) for s in samples) < 2 or any(np.ptp(np.concatenate(s)) == 0 for s in samples):
            continue
        pBefore.append(float(kruskal(*samples[0]).pvalue))
        pAfter.append(float(kruskal(*samples[1]).pvalue))
    if not pBefore:
        return html.notice("ComBat ran, but fewer than two sites have two patients: site effects cannot be measured.")
    before, after = np.array(pBefore), np.array(pAfter)
    return "\n".join(
        [
            html.paragraph(
                f"Features that differ between sites (Kruskal–Wallis p < 0.05): {int((before < 0.05).sum())} of "
                f"{len(before)} before ComBat, {int((after < 0.05).sum())} after."
            ),
            html.figure(siteEffectFigure(before, after), "Site effect before and after ComBat"),
        ]
    )


def featuresSection(run: RunFolder) -> str:
    """Counts, the most variable features and how correlated the features are."""
    features = run.features
    if features is None:
        return html.notice(
            run.problems.get(FEATURES, f"Feature exploration: {FEATURES} is absent (no case extracted).")
        )
    numeric = features.apply(pd.to_numeric, errors="coerce")
    constant = numeric.columns[numeric.nunique(dropna=True) <= 1]
    informative = numeric.drop(columns=constant)
    parts = [
        html.cards(
            [
                ("cases with features", str(len(numeric))),
                ("features", str(numeric.shape[1])),
                ("constant", str(len(constant))),
            ]
        )
    ]
    positive = informative.loc[:, (informative > 0).all()]
    if not positive.empty:
        spread = pd.DataFrame({"mean": positive.mean(), "SD": positive.std(ddof=1)})
        spread["CV"] = spread["SD"] / spread["mean"]
        spread = spread.sort_values("CV", ascending=False).head(TOP_FEATURES)
        spread.insert(0, "unit", [featureUnit(str(n)) for n in spread.index])
        spread["min"], spread["max"] = positive[spread.index].min(), positive[spread.index].max()
        parts += [
            html.tag("h3", "Most variable features"),
            html.paragraph(
                f"Coefficient of variation (SD / mean) over the cases, among the {positive.shape[1]} features whose "
                "values are all positive (a ratio to the mean means nothing for the z-scored intensities).",
                small=True,
            ),
            html.table(spread.rename_axis("feature").reset_index()),
        ]
    if informative.shape[1] >= 2 and len(informative) >= 3:
        correlation = informative.corr(method="spearman").to_numpy()
        pairs = np.abs(correlation[np.triu_indices_from(correlation, k=1)])
        pairs = pairs[np.isfinite(pairs)]
        redundant = int((pairs >= CORRELATION_THRESHOLD).sum())
        parts += [
            html.tag("h3", "Correlation between features"),
            html.paragraph(
                f"{redundant} of {len(pairs)} feature pairs ({100 * redundant / max(len(pairs), 1):.0f} %) have "
                f"|Spearman ρ| ≥ {CORRELATION_THRESHOLD:g} over {len(informative)} cases: much of the feature set is "
                "redundant, which the signature's correlation pruning addresses."
            ),
            html.figure(correlationFigure(pairs, CORRELATION_THRESHOLD), "Histogram of pairwise feature correlations"),
        ]
    return "\n".join(parts)


def _sites(run: RunFolder) -> pd.Series:
    """The site of each patient, from ``case.json`` (or the clusters table)."""
    sites = {case.patient: case.summary.get("site") for case in run.cases if case.summary.get("site")}
    if not sites and run.clusters is not None and {"patient", "site"} <= set(run.clusters.columns):
        sites = dict(zip(run.clusters["patient"].astype(str), run.clusters["site"]))
    return pd.Series(sites, dtype=object)
