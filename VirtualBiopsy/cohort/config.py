"""Settings of a cohort run: which sequences each stage works on."""

from __future__ import annotations

from dataclasses import dataclass, field

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig

#: Optional analyses of a cohort run after the clusters, in the order they run.
ANALYSES = ("cox", "classification", "explanation", "deepLearning")


@dataclass
class CohortConfig(StageConfig):
    """Which of a patient's sequences the pipeline uses.

    :ivar segmentationSequence: the sequence the tumour is segmented on (FLAIR:
        the whole tumour, as the manifest's ground truth ``mask`` draws it).
    :ivar featureSequences: the sequences features are extracted from; feature
        names get the sequence as prefix (``T1c_original_firstorder_Mean``), and
        shape features, which depend only on the mask, come once, from the first.
    :ivar analyses: the optional cohort analyses after the clusters, among
        ``cox``, ``classification``, ``explanation`` (needs ``classification``) and ``deepLearning``.
    """

    segmentationSequence: str = "FLAIR"
    featureSequences: list[str] = field(default_factory=lambda: ["T1c", "FLAIR"])
    analyses: list[str] = field(default_factory=lambda: list(ANALYSES))

    def validate(self) -> None:
        if not self.featureSequences or len(set(self.featureSequences)) != len(self.featureSequences):
            raise InputError(
                f"CohortConfig.featureSequences is {self.featureSequences}; list each sequence once, at least one."
            )
        unknown = [name for name in self.analyses if name not in ANALYSES]
        if unknown or len(set(self.analyses)) != len(self.analyses):
            raise InputError(f"CohortConfig.analyses is {self.analyses}; list each once, among: {', '.join(ANALYSES)}.")
        if "explanation" in self.analyses and "classification" not in self.analyses:
            raise InputError(
                "CohortConfig.analyses has 'explanation' without 'classification'; the explanation "
                "explains a compared classifier, so add 'classification' or remove 'explanation'."
            )
