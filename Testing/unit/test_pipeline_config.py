"""The pipeline settings file: four sections with ``enabled``, the stage configs' keys, errors that name the key's
path, a user's file over the defaults or a preset, the shipped presets, and ``run --print-config``."""

import contextlib
import io

import pytest
import yaml

from VirtualBiopsy.cli import main
from VirtualBiopsy.cohort.pipelineConfig import PRESETS, PipelineConfig, presetNames
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.segment.config import SegmentationConfig


def test_presets_are_shipped_and_round_trip():
    assert presetNames() == ["brain-mr", "ct", "demo"]
    for name in presetNames():
        config = PipelineConfig.preset(name)
        assert PipelineConfig.fromDict(config.toDict()) == config
        assert PipelineConfig.fromDict(yaml.safe_load(config.toYaml())) == config


def test_brain_mr_is_the_glioma_pipeline():
    config = PipelineConfig.preset("brain-mr")
    harmonize = config.harmonize
    assert harmonize.biasCorrection and harmonize.resampling and harmonize.preprocessing.resamplingSpacingMm == 1.0
    assert harmonize.normalizationOf("T1c").normalization == "whitestripe"
    assert harmonize.normalizationOf("T2").whiteStripeContrast == "T2"
    assert harmonize.normalizationOf("FLAIR").normalization == "zscore"
    assert config.segment.source == "manifest" and config.extract.settings.preset == "mr-default"
    assert config.analyses.active() == ["combat", "signature", "clusters", "cox", "classification", "explanation"]


def test_ct_has_no_intensity_normalization_and_ibsi_settings():
    config = PipelineConfig.preset("ct")
    assert not config.harmonize.enabled
    assert config.segment.source == "manifest" and config.extract.sequences == ["CT"]
    assert config.extract.settings.preset == "ibsi-C"
    assert config.neededSequences() == ["CT"]


def test_a_users_file_gives_only_what_differs(tmp_path):
    settings = tmp_path / "mine.yaml"
    settings.write_text("extract:\n  binWidth: 0.2\nanalyses:\n  deepLearning: {enabled: false}\n")
    config = PipelineConfig.fromYaml(settings)
    default = PipelineConfig()
    assert config.extract.settings == ExtractionConfig(binWidth=0.2)
    assert config.harmonize == default.harmonize and config.segment == default.segment
    assert not config.analyses.isOn("deepLearning") and config.analyses.isOn("cox")
    # over a preset: named in the file, or passed as the base
    settings.write_text("preset: demo\nextract: {binWidth: 0.3}\n")
    overDemo = PipelineConfig.fromYaml(settings)
    assert overDemo.segment == PipelineConfig.preset("demo").segment and overDemo.extract.settings.binWidth == 0.3
    settings.write_text("extract: {binWidth: 0.3}\n")
    assert PipelineConfig.fromYaml(settings, PipelineConfig.preset("demo")) == overDemo


def test_sections_hold_the_stage_configs_keys_flat():
    config = PipelineConfig.fromDict(
        {
            "harmonize": {
                "normalization": "whitestripe",
                "n4Iterations": 20,
                "perSequence": {"T2": {"whiteStripeContrast": "T2"}},
            },
            "segment": {"source": "both", "sequence": "T1c", "threshold": 2.5},
            "extract": {"sequences": ["T2"], "featureClasses": ["firstorder"]},
        }
    )
    assert config.harmonize.normalization == HarmonizationConfig(normalization="whitestripe")
    assert config.harmonize.preprocessing.n4Iterations == 20
    assert config.harmonize.normalizationOf("T2") == HarmonizationConfig(
        normalization="whitestripe", whiteStripeContrast="T2"
    )
    assert config.segment.settings == SegmentationConfig(threshold=2.5)
    assert config.segment.usesModel and config.segment.usesManifestMasks
    assert config.neededSequences() == ["T1c", "T2"]
    assert config.toDict()["harmonize"]["perSequence"] == {"T2": {"whiteStripeContrast": "T2"}}


def test_params_is_another_name_of_parameter_file(tmp_path):
    parameters = tmp_path / "params.yaml"
    parameters.write_text((PRESETS.parent / "radiomics" / "mr-default.yaml").read_text())
    config = PipelineConfig.fromDict({"extract": {"params": str(parameters)}})
    assert config.extract.settings.parameterFile == str(parameters)
    with pytest.raises(InputError, match="extract.params: give the parameter file once"):
        PipelineConfig.fromDict({"extract": {"params": str(parameters), "parameterFile": str(parameters)}})


@pytest.mark.parametrize(
    "document, message",
    [
        ({"harmonise": {}}, "harmonise: unknown section; a pipeline settings file has the sections harmonize"),
        (
            {"harmonize": {"normalisation": "zscore"}},
            "harmonize.normalisation: unknown setting. Did you mean 'normalization'",
        ),
        ({"harmonize": {"normalization": "magic"}}, "harmonize.normalization: .*choose one of: zscore, whitestripe"),
        (
            {"harmonize": {"perSequence": {"T2": {"whiteStripeContrast": "CT"}}}},
            "harmonize.perSequence.T2.whiteStripeContrast",
        ),
        ({"harmonize": {"enabled": "no"}}, "harmonize.enabled: must be true or false"),
        ({"segment": {"source": "atlas"}}, "segment.source: is 'atlas'; choose one of: model, manifest, both"),
        ({"segment": {"threshold": "high"}}, "segment.threshold: .*must be a number"),
        ({"extract": {"sequences": []}}, "extract.sequences: give a list of names"),
        ({"extract": {"sequences": ["T1c", "T1c"]}}, "extract.sequences: .*lists a name twice"),
        ({"extract": {"preset": "nope"}}, "extract"),
        ({"analyses": {"clusters": {"numberOfClusters": 1}}}, "analyses.clusters.numberOfClusters"),
        ({"analyses": {"signature": {"correlationThreshold": 2}}}, "analyses.signature.correlationThreshold"),
        ({"analyses": {"combat": {"combatMethod": "magic"}}}, "analyses.combat.combatMethod"),
        ({"analyses": {"cox": []}}, "analyses.cox: must be a mapping"),
    ],
)
def test_errors_name_the_keys_path_and_the_allowed_values(document, message):
    with pytest.raises(InputError, match=message):
        PipelineConfig.fromDict(document)


def test_file_errors_name_the_file(tmp_path):
    settings = tmp_path / "bad.yaml"
    settings.write_text("segment:\n  source: atlas\n")
    with pytest.raises(InputError, match=f"Pipeline settings file {settings}: segment.source"):
        PipelineConfig.fromYaml(settings)
    with pytest.raises(InputError, match="No pipeline preset named 'nope'; shipped presets: brain-mr, ct, demo"):
        PipelineConfig.preset("nope")


def test_print_config_writes_the_complete_settings(tmp_path):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", "--print-config", "--preset", "brain-mr"]) == 0
    document = yaml.safe_load(printed.getvalue())
    assert list(document) == ["harmonize", "segment", "extract", "analyses"]
    assert all("enabled" in document[section] for section in document)
    assert set(document["extract"]) >= {"sequences", "preset", "binWidth", "parameterFile"}
    assert PipelineConfig.fromDict(document) == PipelineConfig.preset("brain-mr")
