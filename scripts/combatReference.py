"""Make the ComBat reference fixtures in Testing/data/combat/ (needs R with Bioconductor's sva).

A seeded synthetic three-site cohort (features.csv, clinical.csv) is written, then
scripts/combatReference.R runs sva::ComBat on it and writes one CSV per variant.
Install R's sva on Debian with ``apt-get install r-bioc-sva``; the tests need no R.

Usage: python scripts/combatReference.py [OUTDIR]   (default: Testing/data/combat)
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
SEED = 20071
#: Site: (cases, additive shift in feature SDs, multiplicative scale).
SITES = {"A": (14, 0.0, 1.0), "B": (12, 0.8, 1.6), "C": (10, -0.5, 0.7)}
FEATURES = 10


def syntheticCohort(seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features (patient + 10 features on very different scales) and clinical (patient, site, age, grade)."""
    generator = np.random.default_rng(seed)
    centres = 10.0 ** generator.uniform(-2, 3, FEATURES)
    spreads = centres * generator.uniform(0.05, 0.3, FEATURES)
    rows, clinical = [], []
    for site, (count, shift, scale) in SITES.items():
        siteShift = shift * generator.uniform(0.5, 1.5, FEATURES)
        siteScale = scale * generator.uniform(0.8, 1.25, FEATURES)
        for _ in range(count):
            patient = f"VC{len(rows) + 1:03d}"
            age = float(np.round(generator.uniform(2, 70), 1))
            grade = str(generator.choice(["high", "low"]))
            biology = (
                0.02 * (age - 35) * np.linspace(-1, 1, FEATURES)
                + (grade == "high") * np.r_[2.5, np.zeros(FEATURES - 1)]
            )
            noise = generator.normal(0, 1, FEATURES) * siteScale
            rows.append([patient, *(centres + spreads * (biology + siteShift + noise))])
            clinical.append([patient, site, age, grade])
    features = pd.DataFrame(rows, columns=["patient", *[f"feature{i + 1:02d}" for i in range(FEATURES)]])
    return features, pd.DataFrame(clinical, columns=["patient", "site", "age", "grade"])


def main(outDir: pathlib.Path) -> None:
    outDir.mkdir(parents=True, exist_ok=True)
    features, clinical = syntheticCohort()
    features.to_csv(outDir / "features.csv", index=False)
    clinical.to_csv(outDir / "clinical.csv", index=False)
    subprocess.run(["Rscript", str(REPOSITORY / "scripts" / "combatReference.R"), str(outDir)], check=True)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else REPOSITORY / "Testing" / "data" / "combat")
