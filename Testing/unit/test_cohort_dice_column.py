"""The cohort analyses carry each case's Dice (against the manifest's mask) into their clinical table."""

from __future__ import annotations

import numpy as np
import pandas as pd
from runFolderFixture import CASES, runFolder  # noqa: F401


def test_the_clusters_table_has_each_cases_dice(runFolder):  # noqa: F811
    qa = pd.read_csv(runFolder / "segmentation-qa.csv").set_index("patient")["dice"]
    clusters = pd.read_csv(runFolder / "cohort" / "clusters.csv").set_index("patient")["dice"]
    assert len(clusters) == CASES and clusters.notna().all()
    # clusters.csv keeps 6 significant digits
    assert np.allclose(clusters.sort_index(), qa.loc[clusters.index].sort_index(), rtol=1e-5, atol=0)
