"""The ComBat reference cohort of Testing/data/combat and small synthetic cohorts for ComBat tests."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "combat"
#: sva fixture name → (method, reference batch).
SVA_VARIANTS = {
    "parametric": ("parametric", None),
    "nonparametric": ("nonparametric", None),
    "meanonly": ("meanonly", None),
    "reference": ("parametric", "B"),
    "reference_nonparametric": ("nonparametric", "B"),
    "reference_meanonly": ("meanonly", "B"),
}


def referenceCohort() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """(features indexed by patient, site, covariates age and grade) of the fixture cohort."""
    features = pd.read_csv(DATA / "features.csv", dtype={"patient": str}).set_index("patient")
    clinical = pd.read_csv(DATA / "clinical.csv", dtype={"patient": str, "site": str}).set_index("patient")
    return features, clinical["site"], clinical[["age", "grade"]]


def svaResult(variant: str) -> pd.DataFrame:
    """``sva::ComBat``'s output for a variant of :data:`SVA_VARIANTS`, indexed by patient."""
    return pd.read_csv(DATA / f"sva_{variant}.csv", dtype={"patient": str}).set_index("patient")


def gradeCohort(seed: int = 3, gradeEffect: float = 3.0) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Two sites whose grade mix differs (A: mostly high, B: mostly low); ``grade`` shifts ``driven``
    by ``gradeEffect`` in every site, site B adds 2 and doubles the spread of every feature."""
    generator = np.random.default_rng(seed)
    rows, sites, grades = [], [], []
    for site, count, highFraction in (("A", 30, 0.8), ("B", 30, 0.2)):
        for case in range(count):
            grade = "high" if case < highFraction * count else "low"
            noise = generator.normal(0, 1, 6)
            values = 10 + noise * (2 if site == "B" else 1) + (2 if site == "B" else 0)
            values[0] += gradeEffect * (grade == "high")
            rows.append(values)
            sites.append(site)
            grades.append(grade)
    index = pd.Index([f"P{i:03d}" for i in range(len(rows))], name="patient")
    features = pd.DataFrame(rows, index=index, columns=["driven", *[f"f{i}" for i in range(1, 6)]])
    return features, pd.Series(sites, index=index, name="site"), pd.DataFrame({"grade": grades}, index=index)
