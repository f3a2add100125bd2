"""Cropping around the ROI before filtering, on pyradiomics' lung1 with the ``full`` preset.

Extracts the 1,223 features (original + LoG σ 2-5 mm + coif1 wavelet) with
``extractFeatures`` cropped (the default: each filter on its own crop, 16 σ around the ROI
for each LoG σ, the wavelet's support for the wavelet) and uncropped (pyradiomics filters
the whole 512×512×48 image), prints both times, the speed-up and the largest relative
difference between the two.
Run: ``.venv/bin/python benchmarks/bench_crop_margin.py [case ...]``.
"""

import sys
import time

import SimpleITK as sitk

from VirtualBiopsy.data.sampleData import fetchSampleData
from VirtualBiopsy.extract.extraction import extractFeatures
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings


def timed(function):
    """``(result, seconds)`` of one call."""
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main(caseNames: list[str]) -> None:
    settings = RadiomicsSettings.fromPreset("full")
    cases = fetchSampleData(cases=caseNames)
    for name in caseNames:
        case = cases[name]
        image, mask = sitk.ReadImage(str(case.image)), sitk.ReadImage(str(case.label))
        extractFeatures(image, mask, RadiomicsSettings.fromPreset("mr-default"))  # warm-up (imports, caches)
        cropped, croppedTime = timed(lambda: extractFeatures(image, mask, settings))
        whole, wholeTime = timed(lambda: extractFeatures(image, mask, settings, crop=False))
        differences = [
            abs(cropped.features[key] - value) / max(abs(value), 1e-12) for key, value in whole.features.items()
        ]
        box = cropped.provenance["cropBox"]["image"]
        print(
            f"{name} {image.GetSize()}, full preset ({len(whole.features)} features): "
            f"uncropped {wholeTime:.2f} s, cropped to {tuple(box['size']) if box else 'no crop'} "
            f"{croppedTime:.2f} s, speed-up {wholeTime / croppedTime:.1f}x; "
            f"largest relative difference {max(differences):.2g} "
            f"({sum(d > 1e-6 for d in differences)} features beyond 1e-6)"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["lung1"])
