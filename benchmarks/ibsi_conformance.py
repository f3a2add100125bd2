"""IBSI 1 conformance: pass counts of the 102 mapped features per configuration,
plain pyradiomics (its own resampling and re-segmentation) against our ``ibsi-*``
presets (IBSI preprocessing, then pyradiomics).

Run with ``.venv/bin/python benchmarks/ibsi_conformance.py [--failures]``; needs
``../shared/data/ibsi`` and says so when it is absent.
"""

import sys
import time

from VirtualBiopsy.extract.ibsi.conformance import DEFAULT_DATA_FOLDER, evaluateConformance, passCount
from VirtualBiopsy.extract.ibsi.referenceValues import CONFIGURATIONS

FEATURE_CLASSES = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")

# What a pyradiomics user writes for each configuration without our preprocessing.
# pyradiomics has one re-segmentation mode, so E gets the 3-sigma filter only.
PLAIN_PYRADIOMICS = {
    "digital": {"binWidth": 1},
    "A": {"binWidth": 25, "resegmentRange": [-500, 400], "force2D": True, "force2Ddimension": 0},
    "B": {
        "binCount": 32,
        "resegmentRange": [-500, 400],
        "force2D": True,
        "force2Ddimension": 0,
        "resampledPixelSpacing": [2, 2, 0],
        "interpolator": "sitkLinear",
    },
    "C": {
        "binWidth": 25,
        "resegmentRange": [-1000, 400],
        "resampledPixelSpacing": [2, 2, 2],
        "interpolator": "sitkLinear",
    },
    "D": {
        "binCount": 32,
        "resegmentRange": [-3, 3],
        "resegmentMode": "sigma",
        "resampledPixelSpacing": [2, 2, 2],
        "interpolator": "sitkLinear",
    },
    "E": {
        "binCount": 32,
        "resegmentRange": [-3, 3],
        "resegmentMode": "sigma",
        "resampledPixelSpacing": [2, 2, 2],
        "interpolator": "sitkBSpline",
    },
}


def plainPreset(configuration: str) -> dict:
    """The plain-pyradiomics preset of ``configuration`` (no preprocessing)."""
    setting = {"label": 1, "distances": [1], "gldm_a": 0, **PLAIN_PYRADIOMICS[configuration]}
    return {
        "preprocessing": None,
        "pyradiomics": {
            "imageType": {"Original": {}},
            "featureClass": dict.fromkeys(FEATURE_CLASSES),
            "setting": setting,
        },
    }


def main() -> int:
    if not (DEFAULT_DATA_FOLDER / "ibsi1_reference_values.csv").is_file():
        print(f"IBSI data not found at {DEFAULT_DATA_FOLDER}; nothing to measure.")
        return 0
    showFailures = "--failures" in sys.argv
    print(f"{'configuration':<14}{'plain pyradiomics':>19}{'ibsi preset':>13}{'preset time':>13}")
    for configuration in CONFIGURATIONS:
        plain = passCount(evaluateConformance(configuration, preset=plainPreset(configuration)))
        start = time.perf_counter()
        frame = evaluateConformance(configuration)
        seconds = time.perf_counter() - start
        print(f"{configuration:<14}{plain:>15} / 102{passCount(frame):>9} / 102{seconds:>11.1f} s")
        if showFailures:
            for row in frame[~frame["pass"]].itertuples():
                print(
                    f"    fails: {row.pyradiomics} ({row.ibsiCode}) {row.value:.6g} vs {row.reference:.6g} ± {row.tolerance:.3g}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
