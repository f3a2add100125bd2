"""The segment stage's logics share one calling convention: inputs (nodes, cases), an output where there is
one, a config dataclass, and ``progress`` / ``cancel``; settings never travel as loose arguments."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from VirtualBiopsy.segment.config import SegmentationConfig
from VirtualBiopsy.segment.logic import SegmentationLogic
from VirtualBiopsy.segment.training.config import DatasetExportConfig, TrainingConfig
from VirtualBiopsy.segment.training.datasetExport import exportDataset
from VirtualBiopsy.segment.training.logic import TrainingLogic
from VirtualBiopsy.segment.training.modelTraining import trainModel

CALLS = [
    (SegmentationLogic.run, SegmentationConfig),
    (SegmentationLogic.runModel, SegmentationConfig),
    (TrainingLogic.train, TrainingConfig),
    (TrainingLogic.exportDataset, DatasetExportConfig),
    (trainModel, TrainingConfig),
    (exportDataset, DatasetExportConfig),
]


@pytest.mark.parametrize("function, configClass", CALLS, ids=[function.__qualname__ for function, _ in CALLS])
def test_a_config_then_progress_and_cancel(function, configClass):
    parameters = inspect.signature(function).parameters
    names = [name for name in parameters if name != "self"]
    assert dataclasses.is_dataclass(configClass) and "config" in names
    annotation = parameters["config"].annotation
    assert configClass.__name__ in (annotation if isinstance(annotation, str) else annotation.__name__)
    assert names[-2:] == ["progress", "cancel"]
    assert all(parameters[name].default is None for name in ("progress", "cancel"))
    # Inputs, output and the config; anything else is keyword-only and optional (a runner, a case count,
    # whether to resume a stopped training).
    assert len(names) <= 7
    assert all(
        parameter.default is not inspect.Parameter.empty
        for name, parameter in parameters.items()
        if name not in ("self", "config") and parameter.kind is inspect.Parameter.KEYWORD_ONLY
    )
