"""The patient summary: prediction, confidence and cohort percentile equal scikit-learn's and
SciPy's; the contributions are the largest exact Shapley values of a linear model; the Grad-CAM
thumbnail is a PNG of the slice holding the map. Hostile inputs are refused with the reason."""

import io

import numpy as np
import pandas as pd
import pytest
from classificationTables import twoFeatureCohort
from scipy import stats

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.deep.thumbnail import gradCamThumbnail, thumbnailSlice
from VirtualBiopsy.outcome.patientSummary import (
    PatientSummaryConfig,
    cohortPercentile,
    scoreProbability,
    summarizePatient,
)


@pytest.fixture(scope="module")
def linearModel():
    """A logistic regression on a synthetic cohort, its log-odds and exact interventional Shapley
    values (a linear score: w_i (x_i - mean_i) over the whole cohort as background)."""
    from sklearn.linear_model import LogisticRegression

    features, grade = twoFeatureCohort(patients=60, noise=3, seed=2)
    model = LogisticRegression(max_iter=1000).fit(features.to_numpy(), (grade == "HGG").astype(int))
    scores = pd.Series(model.decision_function(features.to_numpy()), index=features.index)
    shap = (features - features.mean()) * model.coef_[0]
    table = shap.copy()
    table["base_value"] = float(scores.mean())
    table["model_output"] = scores
    return model, features, scores, table.reset_index()


def test_prediction_confidence_and_percentile_equal_the_references(linearModel):
    model, features, scores, shap = linearModel
    for patient in ["P000", "P017", "P059"]:
        summary = summarizePatient(patient, scores, 0.0, "HGG", "LGG", "logOdds", shap=shap, features=features)
        probability = model.predict_proba(features.loc[[patient]].to_numpy())[0, 1]
        assert summary.probability == pytest.approx(probability, abs=1e-12)
        assert summary.prediction == ("HGG" if probability >= 0.5 else "LGG")
        assert summary.confidence == pytest.approx(max(probability, 1 - probability), abs=1e-12)
        assert summary.percentile == pytest.approx(stats.percentileofscore(scores, scores[patient], kind="mean"))
        assert summary.cohortSize == 60


def test_contributions_are_the_largest_shapley_values_and_sum_to_the_score(linearModel):
    model, features, scores, shap = linearModel
    summary = summarizePatient(
        "P005", scores, 0.0, "HGG", "LGG", "logOdds", shap=shap, features=features, topContributions=3
    )
    row = shap.set_index("patient").loc["P005"].drop(["base_value", "model_output"])
    expected = row.abs().sort_values(ascending=False).index[:3].tolist()
    assert [c.feature for c in summary.contributions] == expected
    assert summary.contributions[0].shapValue == pytest.approx(row[expected[0]])
    assert summary.contributions[0].featureValue == pytest.approx(features.loc["P005", expected[0]])
    # Efficiency of the reference values: they explain the score the summary shows.
    assert summary.baseValue + row.sum() == pytest.approx(summary.score, abs=1e-9)
    assert summary.lines()[0].startswith(f"Prediction: {summary.prediction} (confidence ")


def test_threshold_decides_the_class_and_svm_has_no_confidence():
    scores = pd.Series([-2.0, 0.3, 1.0], index=["a", "b", "c"])
    summary = summarizePatient("b", scores, 0.5, "HGG", "LGG", "decision")
    assert summary.prediction == "LGG" and summary.confidence is None and summary.probability is None
    assert "decision value" in summary.confidenceNote
    assert summarizePatient("c", scores, 0.5, "HGG", "LGG", "decision").prediction == "HGG"
    probability = summarizePatient("b", pd.Series([0.2, 0.7], index=["a", "b"]), 0.6, "1", "0", "probability")
    assert probability.prediction == "1" and probability.confidence == pytest.approx(0.7)


def test_percentile_known_answers_and_extreme_log_odds():
    assert cohortPercentile([1, 2, 3, 4], 4) == pytest.approx(87.5)
    assert cohortPercentile([5, 5, 5], 5) == pytest.approx(50.0)
    assert cohortPercentile([1.0], 1.0) == pytest.approx(50.0)
    assert scoreProbability(-800.0, "logOdds") == pytest.approx(0.0) and scoreProbability(800.0, "logOdds") == 1.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s, t: summarizePatient("nobody", s, 0, "1", "0", "logOdds"), "has no score"),
        (lambda s, t: summarizePatient("P001", s.where(s.index != "P003"), 0, "1", "0", "logOdds"), "non-finite"),
        (lambda s, t: summarizePatient("P001", s, 0, "1", "0", "odds"), "Score kind"),
        (lambda s, t: summarizePatient("P001", s, 0, "1", "0", "probability"), "must lie in [0, 1]"),
        (lambda s, t: summarizePatient("P001", s, 0, "1", "0", "logOdds", topContributions=0), "at least 1"),
        (lambda s, t: summarizePatient("P001", s + 0.1, 0, "1", "0", "logOdds", shap=t), "another model"),
        (
            lambda s, t: summarizePatient("P001", s, 0, "1", "0", "logOdds", shap=t.drop(columns="base_value")),
            "lacks column",
        ),
        (lambda s, t: summarizePatient("P001", s, 0, "1", "0", "logOdds", shap=t[t.patient != "P001"]), "0 rows"),
        (lambda s, t: summarizePatient("P001", pd.concat([s, s.iloc[:1]]), 0, "1", "0", "logOdds"), "twice"),
    ],
)
def test_hostile_inputs_are_refused(linearModel, call, message):
    _model, _features, scores, shap = linearModel
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        call(scores, shap)


def test_summary_config_checks_its_range():
    assert PatientSummaryConfig.fromDict({"summaryPatient": "P001"}).topContributions == 5
    with pytest.raises(InputError, match="topContributions"):
        PatientSummaryConfig.fromDict({"topContributions": 0})


def _blobs(shape=(12, 32, 32), centre=(8, 16, 16)):
    k, j, i = np.indices(shape)
    distance = np.sqrt((k - centre[0]) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2)
    return 100.0 + 50.0 * (distance < 6), np.clip(1.0 - distance / 5.0, 0.0, 1.0)


def test_thumbnail_is_a_png_of_the_slice_holding_the_map():
    from matplotlib import image as mpimg

    image, camMap = _blobs()
    assert thumbnailSlice(camMap) == 8
    png = gradCamThumbnail(image, camMap, size=96)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = mpimg.imread(io.BytesIO(png))
    assert pixels.shape[:2] == (96, 96)
    # The map's colour shows at the centre of the chosen slice, plain grey far from it.
    centre, corner = pixels[48, 48, :3], pixels[4, 4, :3]
    assert np.ptp(centre) > 0.1 and np.ptp(corner) < 1e-6


@pytest.mark.parametrize(
    "image, camMap, message",
    [
        (np.zeros((4, 8, 8)), np.zeros((4, 8, 9)), "same grid"),
        (np.zeros((4, 8, 8)), np.zeros((4, 8, 8)), "zero everywhere"),
        (np.zeros((4, 8, 8)), np.full((4, 8, 8), np.nan), "non-finite"),
        (np.zeros((8, 8)), np.ones((8, 8)), "3D array"),
    ],
)
def test_thumbnail_refuses_unusable_maps(image, camMap, message):
    with pytest.raises(InputError, match=message):
        gradCamThumbnail(image, camMap)
