"""Radiomics through MRML nodes against pyradiomics on the files, on pyradiomics' brain1.

Loads brain1 into a scene, extracts the ``mr-default`` features (original image,
uncropped) with ``ExtractionLogic`` and compares the time with
``RadiomicsFeatureExtractor`` on the NRRD files with the same parameters; prints
the ratio. Run: ``.venv/bin/python benchmarks/bench_radiomics_nodes.py``.
"""

import logging
import time

from VirtualBiopsy.data.sampleData import fetchSampleData
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.logic import ExtractionLogic
from VirtualBiopsy.mrml import createScene, loadSegmentation, loadVolume


def best(function, repeats=5):
    """Best wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    import radiomics
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    radiomics.setVerbosity(logging.ERROR)
    case = fetchSampleData(cases=["brain1"])["brain1"]
    config = ExtractionConfig(cropToRoi=False)  # the same work as pyradiomics on the files
    scene = createScene()
    volume = loadVolume(case.image, scene)
    segmentation = loadSegmentation(case.label, scene, referenceVolume=volume)
    logic = ExtractionLogic(scene)

    extractor = RadiomicsFeatureExtractor(config.settings().pyradiomics)

    logic.computeFeatures(volume, segmentation, config)  # warm-up
    ours = best(lambda: logic.computeFeatures(volume, segmentation, config))
    plain = best(lambda: extractor.execute(str(case.image), str(case.label)))
    print(
        f"brain1 original features: through nodes {ours:.3f} s; pyradiomics on files {plain:.3f} s; ratio {ours / plain:.2f}"
    )


if __name__ == "__main__":
    main()
