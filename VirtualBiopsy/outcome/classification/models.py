"""The classifiers as seeded scikit-learn pipelines and the score each one is judged and explained by."""

from __future__ import annotations

import numpy as np

from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.outcome.classification.config import IMPUTATIONS, MODEL_NAMES

#: What :func:`modelScore` returns per model: the quantity ranked for the ROC and explained by SHAP.
EXPLAINED_QUANTITY = {
    "lr": "log-odds of the positive class",
    "rf": "probability of the positive class (mean of the trees' class probabilities)",
    "svm": "SVM decision value (signed distance to the RBF boundary; > 0 leans positive)",
    "gb": "log-odds of the positive class (gradient boosting's raw score)",
}
#: Readable model names for tables and plots.
MODEL_TITLES = {"lr": "Logistic regression", "rf": "Random forest", "svm": "SVM (RBF)", "gb": "Gradient boosting"}


def buildPipeline(name: str, randomSeed: int = 0, imputation: str = "none", l1: bool = False, trees: int = 300):
    """A new, unfitted pipeline: [imputer] → [standard scaler] → model.

    - ``lr``: standardized features, logistic regression with an L2 (or ``l1``) penalty, C = 1;
    - ``rf``: random forest of ``trees`` trees (no scaling: trees do not need it);
    - ``svm``: standardized features, SVC with an RBF kernel (C = 1, gamma ``scale``);
    - ``gb``: gradient boosting of ``trees`` stages of depth-3 trees.

    :raises InputError: for an unknown model or imputation.
    """
    if name not in MODEL_NAMES:
        raise InputError(f"Unknown classifier '{name}'; choose one of: {', '.join(MODEL_NAMES)}.")
    if imputation not in IMPUTATIONS:
        raise InputError(f"Unknown imputation '{imputation}'; choose one of: {', '.join(IMPUTATIONS)}.")
    requirePackage("sklearn", "scikit-learn")
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    steps = []
    if imputation != "none":
        steps.append(("impute", SimpleImputer(strategy=imputation, keep_empty_features=True)))
    if name in ("lr", "svm"):
        steps.append(("scale", StandardScaler()))
    if name == "lr":
        model = LogisticRegression(
            C=1.0,
            l1_ratio=1.0 if l1 else 0.0,
            solver="saga" if l1 else "lbfgs",
            max_iter=10000,
            random_state=randomSeed,
        )
    elif name == "rf":
        model = RandomForestClassifier(n_estimators=trees, random_state=randomSeed, n_jobs=1)
    elif name == "svm":
        model = SVC(kernel="rbf", C=1.0, gamma="scale", random_state=randomSeed)
    else:
        model = GradientBoostingClassifier(n_estimators=trees, max_depth=3, random_state=randomSeed)
    steps.append(("model", model))
    return Pipeline(steps)


def modelScore(pipeline, name: str, features: np.ndarray) -> np.ndarray:
    """The score of each row: larger means more likely positive (see :data:`EXPLAINED_QUANTITY`).

    The pipeline must have been fitted on 0/1 labels (1 = positive).
    """
    features = np.asarray(features, dtype=float)
    if name == "rf":
        return pipeline.predict_proba(features)[:, 1]
    return np.asarray(pipeline.decision_function(features), dtype=float)
