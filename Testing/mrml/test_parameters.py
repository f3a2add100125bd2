"""Stage configs in scripted-module parameter nodes, in slicer.parameterNodeWrapper's format."""

from __future__ import annotations

import enum
import pathlib
from dataclasses import dataclass, field
from typing import Optional

import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.mrml import loadStageConfig, saveStageConfig
from VirtualBiopsy.settings import StageConfig

MODULE = "VirtualBiopsyTest"


class Mode(enum.Enum):
    fast = 1
    careful = 2


@dataclass
class EveryTypeConfig(StageConfig):
    """One field of each type the wrapper stores."""

    name: str = "Tumor"
    count: int = 3
    ratio: float = 0.5
    enabled: bool = True
    classes: list[str] = field(default_factory=lambda: ["shape", "glcm"])
    spacing: list[float] | None = None
    seed: Optional[int] = 7  # noqa: UP045 - typing.Optional must work too
    window: tuple[int, int] = (1, 2)
    folder: pathlib.Path = pathlib.Path("/data/cases")
    mode: Mode = Mode.careful


def parameters(node) -> dict[str, str]:
    return {name: node.GetParameter(name) for name in node.GetParameterNames()}


def test_writesTheWrappersFormat(scene):
    node = saveStageConfig(scene, MODULE, EveryTypeConfig())
    assert node.GetSingletonTag() == MODULE and node.GetAttribute("ModuleName") == MODULE
    assert node.GetName() == MODULE
    assert parameters(node) == {
        "name": "Tumor",
        "count": "3",
        "ratio": "0.5",
        "enabled": "True",
        "classes.len": "2",
        "classes.0": "shape",
        "classes.1": "glcm",
        "spacing.1": "True",  # list[float] | None holding None: member 1 of the union
        "seed.0": "7",  # Optional[int] holding an int: member 0
        "window.0": "1",
        "window.1": "2",
        "folder": "/data/cases",
        "mode": "careful",
    }


def test_roundTripAndStaleParametersAreRemoved(scene):
    config = EveryTypeConfig(spacing=[1.0, 1.0, 2.5], seed=None, enabled=False, ratio=1e-05, classes=["a", "b", "c"])
    node = saveStageConfig(scene, MODULE, config)
    assert node.GetParameter("spacing.0.len") == "3" and node.GetParameter("spacing.0.2") == "2.5"
    assert node.GetParameter("seed.1") == "True" and node.GetParameter("ratio") == "1e-05"
    assert not node.HasParameter("spacing.1") and not node.HasParameter("seed.0")
    assert loadStageConfig(scene, MODULE, EveryTypeConfig) == config

    smaller = config.replace(classes=["only"], spacing=None)
    assert saveStageConfig(scene, MODULE, smaller) is node
    names = set(node.GetParameterNames())
    assert {"classes.1", "classes.2", "spacing.0.len", "spacing.0.0"}.isdisjoint(names)
    assert loadStageConfig(scene, MODULE, EveryTypeConfig) == smaller
    assert scene.GetNumberOfNodesByClass("vtkMRMLScriptedModuleNode") == 1


def test_realStageConfig(scene):
    config = ExtractionConfig(binWidth=0.1, resampledPixelSpacing=[1.0, 1.0, 1.0])
    node = saveStageConfig(scene, "VirtualBiopsyExtraction", config)
    assert node.GetParameter("binWidth") == "0.1"
    assert node.GetParameter("resampledPixelSpacing.0.len") == "3"
    assert node.GetParameter("featureClasses.len") == str(len(config.featureClasses))
    assert loadStageConfig(scene, "VirtualBiopsyExtraction", ExtractionConfig) == config


def test_readsANodeTheGuiWrote(scene):
    """Parameters as the GUI's @parameterNodeWrapper writes them; missing fields keep their defaults."""
    node = scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")
    node.SetAttribute("ModuleName", MODULE)
    for name, value in {"ratio": "2", "enabled": "False", "name": "Lesion", "seed.1": "True", "mode": "fast"}.items():
        node.SetParameter(name, value)
    config = loadStageConfig(scene, MODULE, EveryTypeConfig)
    assert config == EveryTypeConfig(ratio=2.0, enabled=False, name="Lesion", seed=None, mode=Mode.fast)


def test_absentModuleAndBadValues(scene):
    assert loadStageConfig(scene, MODULE, EveryTypeConfig) is None
    node = saveStageConfig(scene, "VirtualBiopsyExtraction", ExtractionConfig())
    node.SetParameter("binWidth", "wide")
    with pytest.raises(InputError, match="'binWidth' .* cannot be read"):
        loadStageConfig(scene, "VirtualBiopsyExtraction", ExtractionConfig)
    node.SetParameter("binWidth", "-1")
    with pytest.raises(InputError, match="binWidth"):
        loadStageConfig(scene, "VirtualBiopsyExtraction", ExtractionConfig)
    with pytest.raises(InputError, match="dataclass instance"):
        saveStageConfig(scene, MODULE, {"binWidth": 1.0})


def test_configInAParameterPack(scene):
    """With ``pack=``, the fields are ``<pack>.<field>``, as the wrapper's pack serializer names a pack's members
    (the Harmonization node's ``normalization`` pack); a flat read does not see them."""
    from VirtualBiopsy.harmonize.config import HarmonizationConfig

    config = HarmonizationConfig(normalization="percentile", percentileLow=2.0, percentileClip=False)
    node = saveStageConfig(scene, "VirtualBiopsyHarmonization", config, pack="normalization")
    assert node.GetParameter("normalization.normalization") == "percentile"
    assert node.GetParameter("normalization.percentileClip") == "False"
    assert not node.GetParameter("normalization")
    assert loadStageConfig(scene, "VirtualBiopsyHarmonization", HarmonizationConfig, pack="normalization") == config
    assert loadStageConfig(scene, "VirtualBiopsyHarmonization", HarmonizationConfig) == HarmonizationConfig()
