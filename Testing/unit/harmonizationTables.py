"""Synthetic cohort feature tables with a known site effect, for the harmonization evaluation tests."""

import numpy as np
import pandas as pd


def siteTables(
    casesPerSite: int = 20,
    sites: int = 3,
    features: int = 10,
    shift: float = 2.0,
    scale: float = 0.6,
    gradeEffect: float = 1.0,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, clinical)``: each feature is ``N(0, 1) + gradeEffect·[HGG]``, then at site ``s`` multiplied by
    ``exp(scale·u)`` and shifted by ``shift·v`` (``u, v ~ N(0, 1)`` per site and feature; 0 for no site effect).

    Grades alternate LGG/HGG within each site, so site and grade are independent.
    """
    rng = np.random.default_rng(seed)
    rows, clinical = [], []
    shifts = shift * rng.standard_normal((sites, features))
    scales = np.exp(scale * rng.standard_normal((sites, features)))
    for site in range(sites):
        for case in range(casesPerSite):
            grade = "HGG" if case % 2 else "LGG"
            values = rng.standard_normal(features) + gradeEffect * (grade == "HGG")
            values = values * scales[site] + shifts[site]
            patient = f"P{site:02d}{case:03d}"
            rows.append({"patient": patient, **{f"f{k}": values[k] for k in range(features)}})
            clinical.append(
                {"patient": patient, "site": f"Site{'ABCDEFG'[site]}", "grade": grade, "age": float(rng.normal(55, 10))}
            )
    return pd.DataFrame(rows), pd.DataFrame(clinical)
