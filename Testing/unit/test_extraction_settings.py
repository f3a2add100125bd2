"""Radiomics settings: every shipped preset validates against pyradiomics' schema, broken
parameter files give an InputError naming the key, and ExtractionConfig builds the settings."""

import json
import pickle
import warnings

import pytest
import yaml

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.radiomicsSettings import (
    PRESET_FOLDER,
    RadiomicsSettings,
    presetNames,
)

PRESETS = sorted(path.stem for path in PRESET_FOLDER.glob("*.yaml"))


def test_the_required_presets_ship():
    assert {"mr-default", "full"} <= set(PRESETS) == set(presetNames())


@pytest.mark.parametrize("name", PRESETS)
def test_every_shipped_preset_validates_against_pyradiomics_schema(name):
    featureextractor = pytest.importorskip("radiomics.featureextractor")
    settings = RadiomicsSettings.fromPreset(name)
    assert settings.name == name and settings.description
    document = yaml.safe_load((PRESET_FOLDER / f"{name}.yaml").read_text(encoding="utf-8"))
    assert set(document) <= {"description", "preprocessing", "pyradiomics"}
    # pyradiomics itself accepts the parameters (it validates them with the same schema)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pykwalify's load_module
        extractor = featureextractor.RadiomicsFeatureExtractor(settings.pyradiomics)
    assert set(extractor.enabledImagetypes) == set(settings.imageTypes)
    assert (document.get("preprocessing") is None) == (settings.preprocessing is None)


def test_mr_default_and_full_contents():
    mrDefault, full = RadiomicsSettings.fromPreset("mr-default"), RadiomicsSettings.fromPreset("full")
    assert mrDefault.imageTypes == {"Original": {}}
    assert mrDefault.setting["binWidth"] == 25 and "binCount" not in mrDefault.setting
    assert mrDefault.featureClasses() == ["shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"]
    assert full.imageTypes["LoG"]["sigma"] == [2.0, 3.0, 4.0, 5.0]
    assert full.imageTypes["Wavelet"]["wavelet"] == "coif1" and "Original" in full.imageTypes


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"setting": {"binWidht": 25}}, r"unknown key 'binWidht' under '/setting' \(did you mean 'binWidth'\?\)"),
        ({"setting": {"binWidth": -1}}, r"invalid at '/setting/binWidth'"),
        ({"imageType": {"LoG": {"sigma": [0]}}}, r"'/imageType/LoG/sigma/0'"),
        ({"imageType": {"Wavlet": {}}}, r"Image Type Wavlet is not recognized"),
        ({"featureClass": {"glcm": ["Contrastt"]}}, r"unrecognized features.*Contrastt"),
        ({"settings": {"binWidth": 25}}, r"unknown section 'settings' \(did you mean 'setting'\?\)"),
        ({"imageType": {"Wavelet": {"wavelet": "coif99"}}}, r'Wavelet "coif99" not available'),
        ({"pyradiomics": {"setting": {"label": 0}}}, r"'/setting/label'"),
        (
            {"pyradiomics": {}, "preprocesing": {}},
            r"unknown key\(s\) \['preprocesing'\] \(did you mean 'preprocessing'\?\)",
        ),
    ],
)
def test_broken_parameters_name_the_key(document, expected):
    with pytest.raises(InputError, match=expected):
        RadiomicsSettings.fromDict(document)


def test_parameter_files_in_both_formats(tmp_path):
    plain = tmp_path / "params.yaml"
    plain.write_text("imageType: {Original: {}}\nfeatureClass: {firstorder: }\nsetting: {binWidth: 10}\n")
    settings = RadiomicsSettings.fromFile(plain)
    assert settings.name == "params" and settings.setting == {"binWidth": 10} and settings.preprocessing is None
    ours = tmp_path / "ours.yaml"
    ours.write_text(yaml.safe_dump({"description": "x", "pyradiomics": settings.pyradiomics}))
    assert RadiomicsSettings.fromFile(ours).sha256() == settings.sha256()
    broken = tmp_path / "broken.yaml"
    broken.write_text("setting: {binWidth: 25, resampledPixelSpacing: 2}\n")
    with pytest.raises(InputError, match="resampledPixelSpacing"):
        RadiomicsSettings.fromFile(broken)
    notYaml = tmp_path / "bad.yaml"
    notYaml.write_text("setting: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        RadiomicsSettings.fromFile(notYaml)
    with pytest.raises(InputError, match="not found"):
        RadiomicsSettings.fromFile(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match="must be a mapping"):
        RadiomicsSettings.fromDict([1, 2])


def test_unknown_preset_lists_the_shipped_ones():
    with pytest.raises(
        InputError, match=r"No radiomics preset named 'mr-defualt' \(did you mean 'mr-default'\?\).*full"
    ):
        RadiomicsSettings.fromPreset("mr-defualt")


def test_hash_is_stable_and_tracks_every_setting():
    settings = RadiomicsSettings.fromPreset("full")
    again = RadiomicsSettings.fromDict(json.loads(json.dumps(settings.toDict())), name="full")
    assert settings.sha256() == again.sha256() and settings == again
    assert settings.replaced(binWidth=24.0).sha256() != settings.sha256()
    # key order does not matter
    reordered = dict(reversed(list(settings.pyradiomics.items())))
    assert RadiomicsSettings.fromDict(reordered).sha256() == settings.sha256()
    assert pickle.loads(pickle.dumps(settings)) == settings


def test_replaced_overrides_and_validates():
    settings = RadiomicsSettings.fromDict({"setting": {"binCount": 32}})
    changed = settings.replaced(featureClasses=["glcm"], binWidth=0.1, resampledPixelSpacing=[1, 1, 2])
    assert changed.pyradiomics["featureClass"] == {"glcm": None}
    assert changed.setting == {"binWidth": 0.1, "resampledPixelSpacing": [1.0, 1.0, 2.0]}
    assert settings.setting == {"binCount": 32}
    with pytest.raises(InputError, match="binWidth"):
        settings.replaced(binWidth=-1.0)


def test_extraction_config_builds_the_settings(tmp_path):
    config = ExtractionConfig()
    assert config.preset == "mr-default" and config.settings() == RadiomicsSettings.fromPreset("mr-default")
    demo = ExtractionConfig(featureClasses=["shape", "glcm"], binWidth=0.1)
    assert demo.settings().pyradiomics["featureClass"] == {"shape": None, "glcm": None}
    assert demo.settings().setting["binWidth"] == 0.1
    parameters = tmp_path / "p.yaml"
    parameters.write_text("setting: {binWidth: 3}\n")
    fromFile = ExtractionConfig(preset="full", parameterFile=str(parameters)).settings()
    assert fromFile.name == "p" and fromFile.setting == {"binWidth": 3}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"preset": "nope"}, r"No radiomics preset named 'nope'.*mr-default"),
        ({"parameterFile": "/no/such/file.yaml"}, r"parameterFile /no/such/file.yaml does not exist"),
        ({"featureClasses": ["glcm", "texture"]}, r"featureClasses has \['texture'\]"),
        ({"binWidth": -0.5}, r"binWidth is -0.5"),
        ({"resampledPixelSpacing": [1, 1]}, r"three positive spacings"),
        ({"minimumRoiVoxels": 0}, r"minimumRoiVoxels is 0"),
        ({"cropToRoi": "yes"}, r"cropToRoi must be of type bool"),
    ],
)
def test_extraction_config_rejects_bad_values(values, expected):
    with pytest.raises(InputError, match=expected):
        ExtractionConfig.fromDict(values)
