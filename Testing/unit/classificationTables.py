"""Small synthetic tables for the classifier tests: patients with a diagnosis that depends on
known features, and the virtual cohort's own clinical table (grade) with tumour-derived features."""

from __future__ import annotations

import numpy as np
import pandas as pd


def twoFeatureCohort(
    patients: int = 60, noise: int = 4, seed: int = 0, separation: float = 1.0
) -> tuple[pd.DataFrame, pd.Series]:
    """Features ``signal1``, ``signal2`` decide the class (with logistic noise); ``noise1``... do not.

    :returns: features (index = patient ``P000``...) and the class (``HGG``/``LGG``).
    """
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(patients, 2 + noise))
    columns = ["signal1", "signal2", *[f"noise{i + 1}" for i in range(noise)]]
    index = pd.Index([f"P{i:03d}" for i in range(patients)], name="patient")
    features = pd.DataFrame(values, index=index, columns=columns)
    logit = separation * 2.5 * (features["signal1"] - 0.8 * features["signal2"])
    high = rng.random(patients) < 1 / (1 + np.exp(-logit))
    return features, pd.Series(np.where(high, "HGG", "LGG"), index=index, name="grade")


def virtualCohortTables(patients: int = 40, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The virtual cohort's clinical table (as ``generateCohort`` writes it, without images) and a
    features table of its tumours' phenotype (radius, necrosis, enhancement, ...) measured with noise.
    """
    from VirtualBiopsy.data.randomFields import caseRandom
    from VirtualBiopsy.data.scanner import SITES
    from VirtualBiopsy.data.survival import sampleOutcome, samplePatient
    from VirtualBiopsy.data.tumour import sampleTumour
    from VirtualBiopsy.data.virtualCase import patientId

    clinical, features = [], []
    measurement = np.random.default_rng(seed + 1000)
    for index in range(patients):
        patient = samplePatient(caseRandom(seed, index, "clinical"), len(SITES))
        outcome = sampleOutcome(caseRandom(seed, index, "survival"), patient)
        tumour = sampleTumour(caseRandom(seed, index, "tumour"), patient.aggressiveness, patient.grade)
        name = patientId(index)
        clinical.append(
            {
                "patient": name,
                "site": SITES[patient.siteIndex].name,
                "grade": patient.grade,
                "time": outcome.time,
                "event": outcome.event,
                "age": patient.age,
                "sex": patient.sex,
            }
        )
        noise = measurement.normal(scale=0.05, size=5)
        features.append(
            {
                "patient": name,
                "label": 1,
                "radiusMm": tumour.radiusMm * (1 + noise[0]),
                "necrosisRatio": tumour.necrosisRatio + noise[1],
                "enhancement": tumour.gadoliniumMm * (1 + noise[2]),
                "heterogeneity": tumour.heterogeneity * (1 + noise[3]),
                "oedemaMarginMm": tumour.oedemaMarginMm * (1 + noise[4]),
            }
        )
    return pd.DataFrame(features), pd.DataFrame(clinical)
