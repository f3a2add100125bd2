"""One patient's page: status, tumour slices with both outlines, volume, key features against the cohort, the
classifier's out-of-fold prediction with the patient's Shapley waterfall, and the Grad-CAM overlay."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from VirtualBiopsy.cohort.report import html
from VirtualBiopsy.cohort.report.figureStyle import isPng, pngFileDataUri
from VirtualBiopsy.cohort.report.patientFigures import featureHistogramsFigure, waterfallFigure
from VirtualBiopsy.cohort.report.patientImages import readTumourImages, tumourSlicesFigure
from VirtualBiopsy.cohort.report.runFolder import CLASSIFICATION, GRADCAM, CaseRecord, RunFolder, shapleyTable
from VirtualBiopsy.cohort.report.runSettings import analysisAbsence, missingOutputs
from VirtualBiopsy.errors import InputError

#: Features shown against the cohort's distribution.
KEY_FEATURES = 6
GRADCAM_VIEWS = ("axial", "coronal", "sagittal")


def keyFeatures(run: RunFolder) -> list[str]:
    """The tumour volume, then the features with the largest mean |Shapley value| (or, without Shapley values, the
    largest coefficient of variation among the positive ones)."""
    if run.features is None:
        return []
    numeric = run.features.apply(pd.to_numeric, errors="coerce")
    names = [n for n in numeric.columns if n.endswith("shape_MeshVolume")][:1]
    shap = shapleyTable(run)
    if shap is not None:
        ranking = shap.values.abs().mean().sort_values(ascending=False).index
    else:
        positive = numeric.loc[:, (numeric > 0).all() & (numeric.nunique() > 1)]
        ranking = (positive.std() / positive.mean()).sort_values(ascending=False).index
    names += [n for n in ranking if n in numeric.columns and n not in names]
    return names[:KEY_FEATURES]


def patientPage(run: RunFolder, case: CaseRecord, neighbours: tuple[str | None, str | None]) -> str:
    """The HTML page of ``case``; ``neighbours`` are the previous and next patients' page files."""
    navigation = [("../index.html", "← Cohort report"), ("../index.html#cases", "All cases")]
    if neighbours[0]:
        navigation.append((neighbours[0], "‹ previous patient"))
    if neighbours[1]:
        navigation.append((neighbours[1], "next patient ›"))
    navigation += [
        ("#images", "Images"),
        ("#features", "Features"),
        ("#prediction", "Prediction"),
        ("#gradcam", "Grad-CAM"),
    ]
    body = "\n".join(
        [
            html.section("summary", "Summary", _summary(case)),
            html.section("images", "Tumour and segmentation", _images(run, case)),
            html.section("features", "Key features against the cohort", _features(run, case.patient)),
            html.section("prediction", "Classifier prediction and Shapley values", _prediction(run, case.patient)),
            html.section("gradcam", "Grad-CAM", _gradCam(run, case.patient)),
        ]
    )
    return html.page(f"Patient {case.patient}", f"Virtual Biopsy — {run.folder.name}", navigation, body)


def _summary(case: CaseRecord) -> str:
    summary = case.summary
    if not summary:
        return html.notice(f"No case summary: {case.problem}")
    rows = [
        ("status", html.statusLabel(case.status)),
        ("site", html.escape(summary.get("site"))),
        ("segmentation source", html.escape(summary.get("segmentationSource"))),
        ("tumour volume", html.escape(_number(summary.get("volumeMm3"), " mm³"))),
        ("Dice against the reference", html.escape(_number(summary.get("dice")))),
        ("HD95 against the reference", html.escape(_number(summary.get("hausdorff95Mm"), " mm"))),
    ]
    if case.status == "failed":
        rows.insert(1, ("failed at", html.escape(summary.get("failedStage"))))
        rows.insert(2, ("error", html.escape(summary.get("error"))))
    stages = summary.get("stages") or {}
    if isinstance(stages, dict):
        for stage, record in stages.items():
            record = record if isinstance(record, dict) else {}
            seconds = _number(record.get("seconds"), " s")
            rows.append(
                (f"stage {stage}", html.escape(f"{record.get('status', '?')}{', ' + seconds if seconds else ''}"))
            )
    for warning in summary.get("domainWarnings") or []:
        rows.append(("domain warning", html.escape(warning)))
    table = "".join(f"<tr><th>{html.escape(label)}</th><td>{value}</td></tr>" for label, value in rows)
    return f"<table>{table}</table>"


def _images(run: RunFolder, case: CaseRecord) -> str:
    if case.status != "done" and not case.summary.get("segmentation"):
        return html.notice(f"No images to show: the case {case.status} before its segmentation.")
    try:
        images = readTumourImages(run, case.summary)
    except InputError as error:
        return html.notice(f"Images: not shown ({error}).")
    title = f"{case.patient}: {images.sequence} with the tumour outlines"
    caption = (
        f"Slices through the segmentation's centre of mass; image {images.imagePath.name}. "
        f"Automatic segmentation: {images.volumeMm3:,.0f} mm³."
        + ("" if images.reference is not None else " No reference mask for this patient.")
    )
    return html.figure(tumourSlicesFigure(images, title), title, caption)


def _features(run: RunFolder, patient: str) -> str:
    if run.features is None:
        return html.notice("Features: the run folder has no features.csv and no case features.")
    if patient not in run.features.index:
        return html.notice(f"Features: patient {patient} has no features (the case did not reach extraction).")
    names = keyFeatures(run)
    if not names:
        return html.notice("Features: none to show.")
    return html.figure(
        featureHistogramsFigure(run.features, patient, names),
        "The patient's key features on the cohort's histograms",
        f"The tumour volume and the features that weigh most in the classifier; the orange line is {patient}, "
        f"the bars the {len(run.features)} patients of the cohort.",
    )


def _prediction(run: RunFolder, patient: str) -> str:
    title = "Classifier prediction"
    absence = analysisAbsence(run, "classification", title) or missingOutputs(
        run, title, [f"{CLASSIFICATION}/predictions.csv", f"{CLASSIFICATION}/performance.csv"]
    )
    if absence:
        return html.notice(absence)
    explanation = run.explanation or {}
    performance = run.classification["performance"].set_index("model")
    model = str(explanation.get("model") or performance["auc_pooled"].idxmax())
    predictions = run.classification["predictions"]
    rows = predictions[(predictions["patient"].astype(str) == patient) & (predictions["model"].astype(str) == model)]
    parts = []
    if rows.empty:
        parts.append(html.notice(f"{title}: patient {patient} has no out-of-fold score of model {model}."))
    else:
        quantity = str(performance.at[model, "score"]) if "score" in performance.columns else ""
        score = float(rows["score"].mean())
        probability = 1 / (1 + math.exp(-score)) if quantity.startswith("log-odds") else score
        target = (run.classificationProvenance or {}).get("target") or {}
        positive = str(target.get("positiveClass", "positive"))
        negative = ", ".join(map(str, target.get("negativeClasses") or ["negative"]))
        predicted = positive if probability >= 0.5 else negative
        confidence = probability if probability >= 0.5 else 1 - probability
        actual = positive if int(rows["target"].iloc[0]) == 1 else negative
        parts.append(
            html.cards(
                [
                    (f"predicted by {model} (out of fold)", predicted),
                    (f"confidence (probability of {predicted})", f"{confidence:.0%}"),
                    ("actual class", actual),
                ]
            )
        )
        parts.append(
            html.paragraph(
                f"Mean over {len(rows)} cross-validation repeat(s) of the score ({quantity}): {score:.3g}; the model "
                "never saw this patient when it scored it.",
                small=True,
            )
        )
    shapAbsence = analysisAbsence(run, "explanation", "Shapley values") or missingOutputs(
        run, "Shapley values", [f"{CLASSIFICATION}/shap.csv"]
    )
    if shapAbsence:
        return "\n".join(parts + [html.notice(shapAbsence)])
    shap = shapleyTable(run)
    if shap is None or patient not in shap.values.index:
        return "\n".join(parts + [html.notice(f"Shapley values: none for patient {patient}.")])
    values = shap.values.loc[patient].dropna()
    base = float(shap.baseValue[patient])
    if not math.isfinite(base):
        base = float(explanation.get("baseValue") or 0.0)
    quantity = str(explanation.get("quantity") or "model output")
    parts.append(
        html.figure(
            waterfallFigure(values, base, quantity, patient),
            f"Shapley waterfall of {patient}",
            f"Shapley values of model {explanation.get('model', '?')} fitted on the whole cohort (its output for this "
            "patient differs from the out-of-fold score above, which came from models that did not see the patient).",
        )
    )
    return "\n".join(parts)


def _gradCam(run: RunFolder, patient: str) -> str:
    title = "Grad-CAM"
    absence = analysisAbsence(run, "deepLearning", title) or missingOutputs(run, title, [f"{GRADCAM}/gradcam.csv"])
    if absence:
        return html.notice(absence)
    table = run.gradCam
    assert table is not None
    rows = table[table["patient"].astype(str) == patient]
    if rows.empty:
        mapped = ", ".join(map(str, table["patient"])) or "no patient"
        return html.notice(f"Grad-CAM: computed for {mapped} only (deepLearning.gradCamPatients), not for {patient}.")
    row = rows.iloc[0]
    parts = [
        html.paragraph(
            f"Map of the class {row.get('explained_class', '?')} (CNN probability {_number(row.get('probability'))}); "
            f"mean map inside / outside the tumour: {_number(row.get('inside_over_outside'))}."
        )
    ]
    folder = run.folder / GRADCAM / patient
    views = []
    for view in GRADCAM_VIEWS:
        path = folder / f"{view}.png"
        data = path.read_bytes() if path.is_file() else b""
        if isPng(data):
            views.append(html.figure(pngFileDataUri(data), f"Grad-CAM {view}", f"{view.capitalize()} slice", width=380))
        else:
            parts.append(html.notice(f"Grad-CAM {view}: {GRADCAM}/{patient}/{view}.png is absent or not a PNG."))
    parts.append(f'<div class="row">{"".join(views)}</div>')
    if not bool(row.get("defined", True)):
        parts.append(html.notice(f"The map is undefined: {row.get('reason', '')}"))
    return "\n".join(parts)


def _number(value: object, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if not isinstance(value, (int, float)):
        return f"{value}{unit}"
    return f"{float(value):,.0f}{unit}" if abs(float(value)) >= 1000 else f"{float(value):.4g}{unit}"
