"""The cohort page's sections about the cohort analyses: survival by cluster (Kaplan–Meier recomputed from
``cohort/clusters.csv``), the Cox model, the classifier comparison, the Shapley values and the Grad-CAM maps."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from VirtualBiopsy.cohort.report import html
from VirtualBiopsy.cohort.report.cohortFigures import forestFigure, rocFigure, shapSummaryFigure
from VirtualBiopsy.cohort.report.cohortSections import patientLink
from VirtualBiopsy.cohort.report.runFolder import CLASSIFICATION, CLUSTERS, COX, GRADCAM, RunFolder, shapleyTable
from VirtualBiopsy.cohort.report.runSettings import analysisAbsence, missingOutputs, survivalColumns
from VirtualBiopsy.cohort.report.survivalFigures import kaplanMeierFigure, logRankText
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.kaplanMeier import KaplanMeierResult, kaplanMeier
from VirtualBiopsy.outcome.survivalFigure import atRiskTimes

#: Rows of the permutation-importance table.
TOP_FEATURES = 10


@dataclass
class SurvivalCurves:
    """Kaplan–Meier curves of some grouping, with the numbers at risk (groups × ``times``) under the plot."""

    result: KaplanMeierResult
    times: list[float]
    atRisk: pd.DataFrame
    timeLabel: str


def survivalCurves(run: RunFolder, groups: pd.Series) -> SurvivalCurves:
    """Kaplan–Meier curves of the patients of ``groups`` (patient → group) from ``cohort/clusters.csv``' time and
    event columns.

    :raises InputError: when the clusters table lacks a column or holds invalid times or events.
    """
    timeColumn, eventColumn, timeLabel = survivalColumns(run)
    clinical = run.clusters
    if clinical is None:
        raise InputError(f"{CLUSTERS} is absent.")
    absent = [c for c in ("patient", timeColumn, eventColumn) if c not in clinical.columns]
    if absent:
        raise InputError(f"{CLUSTERS} has no column {', '.join(absent)}.")
    clinical = clinical.set_index(clinical["patient"].astype(str))
    patients = groups.index.intersection(clinical.index)
    result = kaplanMeier(clinical.loc[patients, timeColumn], clinical.loc[patients, eventColumn], groups.loc[patients])
    times = atRiskTimes(result)
    return SurvivalCurves(result, times, result.atRiskTable(times), timeLabel)


def clusterSurvival(run: RunFolder) -> SurvivalCurves:
    """Kaplan–Meier curves of the k-means clusters in ``cohort/clusters.csv``.

    :raises InputError: when the table is absent or has no ``cluster`` column.
    """
    if run.clusters is None or "cluster" not in run.clusters.columns:
        raise InputError(f"{CLUSTERS} is absent or has no cluster column.")
    clusters = run.clusters.dropna(subset=["cluster"])
    groups = pd.Series(
        [f"cluster {int(c)}" if float(c).is_integer() else str(c) for c in clusters["cluster"]],
        index=clusters["patient"].astype(str),
    )
    return survivalCurves(run, groups)


def survivalHtml(curves: SurvivalCurves, title: str) -> str:
    """The Kaplan–Meier figure, the log-rank p, the numbers at risk and the survival summary."""
    atRisk = curves.atRisk.copy()
    atRisk.columns = [html.formatNumber(t) for t in curves.times]
    summary = curves.result.summary[
        ["group", "n", "events", "median", "median_ci_lower", "median_ci_upper", "note"]
    ].rename(columns={"median_ci_lower": "95 % CI lower", "median_ci_upper": "95 % CI upper"})
    return "\n".join(
        [
            html.figure(
                kaplanMeierFigure(curves.result, curves.times, curves.timeLabel, title),
                title,
                "Shaded: pointwise 95 % confidence band; ticks: censored patients.",
            ),
            html.paragraph(logRankText(curves.result) + "."),
            f'<div class="at-risk">{html.table(atRisk.rename_axis("group").reset_index(), caption=f"Number at risk at each time ({curves.timeLabel})")}</div>',
            html.table(summary, caption=f"Median survival ({curves.timeLabel}) with its 95 % CI"),
        ]
    )


def kaplanMeierSection(run: RunFolder) -> str:
    """Survival by k-means cluster."""
    absence = analysisAbsence(run, "clusters", "Clusters and Kaplan–Meier")
    if run.clusters is None:
        return html.notice(absence or run.problems.get(CLUSTERS, f"Clusters and Kaplan–Meier: {CLUSTERS} is absent."))
    try:
        curves = clusterSurvival(run)
    except InputError as error:
        return html.notice(f"Kaplan–Meier: cannot be computed ({error}).", "failed")
    return survivalHtml(curves, "Survival by k-means cluster")


def coxSection(run: RunFolder) -> str:
    """The Cox model's C-index, hazard ratios (table and forest plot), PH test and risk groups."""
    absence = analysisAbsence(run, "cox", "Cox model") or missingOutputs(run, "Cox model", [f"{COX}/coefficients.csv"])
    if absence:
        return html.notice(absence, "failed" if "failed" in absence else "absent")
    cox = run.cox
    coefficients = cox["coefficients"]
    parts = []
    if "cindex" in cox and not cox["cindex"].empty:
        row = cox["cindex"].iloc[0]
        parts.append(
            html.paragraph(
                f"Concordance index {html.formatNumber(row.get('cindex'))} (95 % CI {html.formatNumber(row.get('ci_lower'))}"
                f"–{html.formatNumber(row.get('ci_upper'))}, bootstrap)."
            )
        )
    shown = [c for c in ("covariate", "coef", "hr", "ci_lower", "ci_upper", "p") if c in coefficients.columns]
    parts.append(
        html.table(
            coefficients[shown].rename(
                columns={"hr": "hazard ratio", "ci_lower": "HR 95 % CI lower", "ci_upper": "HR 95 % CI upper"}
            )
        )
    )
    if {"hr", "ci_lower", "ci_upper", "covariate"} <= set(coefficients.columns):
        parts.append(html.figure(forestFigure(coefficients), "Forest plot of the Cox hazard ratios"))
    if "ph_test" in cox:
        parts += [html.tag("h3", "Proportional-hazards test"), html.table(cox["ph_test"])]
    risk = cox.get("risk_groups")
    if risk is not None and {"risk_group"} <= set(risk.columns):
        groups = pd.Series(risk["risk_group"].astype(str).to_numpy(), index=risk.iloc[:, 0].astype(str))
        try:
            curves = survivalCurves(run, groups)
            parts += [html.tag("h3", "Risk groups"), survivalHtml(curves, "Survival by Cox risk group")]
        except InputError as error:
            parts.append(html.notice(f"Risk-group Kaplan–Meier: cannot be computed ({error})."))
    return "\n".join(parts)


def classificationSection(run: RunFolder) -> str:
    """The classifiers' cross-validated performance and ROC curves."""
    title = "Classifier comparison"
    absence = analysisAbsence(run, "classification", title) or missingOutputs(
        run, title, [f"{CLASSIFICATION}/performance.csv"]
    )
    if absence:
        return html.notice(absence, "failed" if "failed" in absence else "absent")
    from VirtualBiopsy.outcome.classification.models import MODEL_TITLES

    performance = run.classification["performance"]
    target = (run.classificationProvenance or {}).get("target") or {}
    parts = []
    if target:
        parts.append(
            html.paragraph(
                f"Target: {target.get('column', '?')} = {target.get('positiveClass', '?')} (positive) against "
                f"{', '.join(map(str, target.get('negativeClasses') or [])) or 'the rest'}; repeated stratified "
                "cross-validation, every score out of fold."
            )
        )
    columns = {
        "model": "model",
        "auc_mean": "AUC mean",
        "auc_sd": "AUC SD",
        "auc_pooled": "AUC pooled",
        "auc_ci_lower": "CI lower",
        "auc_ci_upper": "CI upper",
        "balanced_accuracy_mean": "balanced accuracy",
        "sensitivity_mean": "sensitivity",
        "specificity_mean": "specificity",
        "folds": "folds",
        "repeats": "repeats",
        "patients": "patients",
        "positives": "positives",
    }
    shown = performance[[c for c in columns if c in performance.columns]].rename(columns=columns)
    shown["model"] = [MODEL_TITLES.get(str(m), str(m)) for m in shown["model"]]
    parts.append(html.table(shown))
    roc = run.classification.get("roc")
    if roc is not None and {"model", "fpr", "tpr_mean"} <= set(roc.columns):
        parts.append(html.figure(rocFigure(roc, performance, MODEL_TITLES), "Cross-validated ROC curves"))
    else:
        parts.append(html.notice(f"ROC curves: {CLASSIFICATION}/roc.csv is absent."))
    return "\n".join(parts)


def shapleySection(run: RunFolder) -> str:
    """The Shapley summary of the explained classifier and its permutation importance."""
    title = "Shapley values"
    absence = analysisAbsence(run, "explanation", title) or missingOutputs(run, title, [f"{CLASSIFICATION}/shap.csv"])
    if absence:
        return html.notice(absence, "failed" if "failed" in absence else "absent")
    shap = shapleyTable(run)
    if shap is None:
        return html.notice(f"{title}: {CLASSIFICATION}/shap.csv has no patient column.")
    explanation = run.explanation or {}
    quantity = str(explanation.get("quantity") or "model output")
    parts = [
        html.paragraph(
            f"Model {explanation.get('model', '?')}, {explanation.get('method', 'Shapley')} values of the {quantity}; "
            f"base value {html.formatNumber(explanation.get('baseValue'))} (the mean over the background patients)."
        ),
        html.figure(
            shapSummaryFigure(shap.values, run.features, quantity),
            "Shapley summary plot",
            "Each dot is a patient: its position is the feature's contribution to the output, its colour the "
            "feature's value ranked within the cohort.",
        ),
    ]
    importance = run.classification.get("permutation_importance")
    if importance is not None:
        parts += [html.tag("h3", "Permutation importance"), html.table(importance.head(TOP_FEATURES))]
    return "\n".join(parts)


def gradCamSection(run: RunFolder) -> str:
    """The Grad-CAM maps that were computed (each shown on its patient's page)."""
    title = "CNN and Grad-CAM"
    absence = analysisAbsence(run, "deepLearning", title) or missingOutputs(run, title, [f"{GRADCAM}/gradcam.csv"])
    if absence:
        return html.notice(absence, "failed" if "failed" in absence else "absent")
    table = run.gradCam
    assert table is not None
    shown = [
        c
        for c in ("patient", "target", "explained_class", "probability", "inside_over_outside", "defined", "reason")
        if c in table.columns
    ]
    return html.paragraph("The maps are shown on the patients' pages.") + html.table(
        table[shown], cellHtml={"patient": patientLink}
    )
