"""Patient clusters on a signature: k-means with silhouette, and the clusters' survival."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.clustering import clusterPatients, standardizeFeatures
from VirtualBiopsy.outcome.kaplanMeier import KaplanMeierResult, kaplanMeier


@dataclass
class PatientClusters:
    """k-means clusters of patients.

    :ivar clusters: cluster number per patient (0 = largest cluster).
    :ivar silhouette: per patient: silhouette value on the standardized features.
    :ivar meanSilhouette: the mean silhouette (scikit-learn's ``silhouette_score``), or NaN when
        undefined (``note`` says why).
    :ivar survival: Kaplan–Meier curves and log-rank tests per cluster, when survival was given.
    """

    clusters: pd.Series
    silhouette: pd.Series
    meanSilhouette: float
    note: str = ""
    survival: KaplanMeierResult | None = None

    def table(self) -> pd.DataFrame:
        """Per patient: ``cluster`` and ``silhouette`` (index = patient)."""
        return pd.DataFrame({"cluster": self.clusters, "silhouette": self.silhouette})


def clusterCohort(
    features: pd.DataFrame,
    numberOfClusters: int = 2,
    randomSeed: int = 0,
    time: pd.Series | None = None,
    event: pd.Series | None = None,
) -> PatientClusters:
    """Cluster the patients with k-means on z-scored ``features`` and compare the clusters' survival.

    :param features: numeric features (e.g. a signature's factor scores) indexed by patient.
    :param numberOfClusters: k (at least 2).
    :param time: follow-up per patient (same index), with ``event``, for Kaplan–Meier per cluster.
    :raises InputError: for k < 2, fewer patients than clusters, fewer distinct patients than
        clusters, or unusable features.
    """
    from sklearn.metrics import silhouette_samples

    if int(numberOfClusters) != numberOfClusters or numberOfClusters < 2:
        raise InputError(f"The number of clusters is {numberOfClusters}; give a whole number of at least 2.")
    if (time is None) != (event is None):
        raise InputError("Give both time and event for the clusters' survival, or neither.")
    distinct = len(features.drop_duplicates())
    if len(features) >= numberOfClusters > distinct:
        raise InputError(
            f"Only {distinct} patient(s) have distinct features, too few for {numberOfClusters} "
            "clusters; lower the number of clusters."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # threadpoolctl's notice about OpenMP libraries
        clusters = clusterPatients(features, numberOfClusters, randomSeed)
    standardized = standardizeFeatures(features).to_numpy()
    if numberOfClusters < len(features):
        silhouette = silhouette_samples(standardized, clusters.to_numpy())
        mean, note = float(np.mean(silhouette)), ""
    else:
        silhouette = np.full(len(features), np.nan)
        mean, note = (
            np.nan,
            (
                f"silhouette undefined: {numberOfClusters} clusters of {len(features)} patients leave "
                "one patient per cluster"
            ),
        )
    survival = None
    if (time is None) != (event is None):
        raise InputError(
            "Give both the survival times and the event flags, or neither (for clusters without survival)."
        )
    if time is not None and event is not None:
        if not time.index.equals(features.index) or not event.index.equals(features.index):
            raise InputError("Time and event must be given for the same patients, in the same order, as the features.")
        survival = kaplanMeier(time, event, clusters)
    return PatientClusters(
        clusters=clusters,
        silhouette=pd.Series(silhouette, index=features.index, name="silhouette"),
        meanSilhouette=mean,
        note=note,
        survival=survival,
    )
