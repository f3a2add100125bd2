"""``virtual-biopsy extract --manifest``: every case of a cohort into a new folder, on a local or existing Dask
cluster or one after the other, with a result cache shared by re-runs."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.extractOptions import extractionConfig


def runCohort(arguments: argparse.Namespace) -> int:
    """``--manifest``: extract every case of the cohort into the new folder ``--out``."""
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.commands.tableOptions import pathOptions
    from VirtualBiopsy.data.manifest import readManifest
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.executors import makeExecutor
    from VirtualBiopsy.extract.cohortExtraction import extractCohort
    from VirtualBiopsy.files import requireNewFolder

    singleCase = [
        option
        for option, value in (
            ("--image", arguments.image),
            ("--mask", arguments.mask),
            ("--patient", arguments.patient),
        )
        if value
    ]
    if singleCase:
        raise InputError(
            f"--manifest extracts the cases the manifest lists; {', '.join(singleCase)} only apply to one "
            "case only. Drop them, or drop --manifest to extract one case."
        )
    labels = list(dict.fromkeys(arguments.label or [1]))
    if len(labels) > 1:
        raise InputError(
            f"--manifest takes one --label (got {', '.join(map(str, labels))}); give each case its own "
            "label in the manifest's 'label' column instead."
        )
    if labels[0] < 1:
        raise InputError(f"--label is {labels[0]}; give a positive whole number (the tumour's value in the masks).")
    config = extractionConfig(arguments)
    if arguments.workers is not None and arguments.workers < 1:
        raise InputError(f"--workers is {arguments.workers}; give at least 1 worker process.")
    out = requireNewFolder(arguments.out, "Extraction folder")
    settings = config.settings()
    cache = None if arguments.no_cache else (arguments.cache or defaultCohortCache())
    paths = pathOptions(arguments)
    readManifest(arguments.manifest, **paths)  # bad input: one line on stderr, before the progress bar appears
    with makeExecutor(arguments.workers, arguments.scheduler) as executor, progressBar("extract") as progress:
        result = extractCohort(
            arguments.manifest,
            out,
            settings,
            executor,
            label=labels[0],
            cacheFolder=cache,
            minimumRoiVoxels=config.minimumRoiVoxels,
            resampleMaskToImage=config.resampleMaskToImage,
            crop=config.cropToRoi,
            progress=progress,
            **paths,
        )
    features = result.wide().shape[1] - 2
    print(
        f"Cases: {len(result.cases)}: {len(result.succeeded)} extracted ({result.cacheHits} from the cache), "
        f"{len(result.failed)} failed" + (" (see failures.csv)" if result.failed else "")
    )
    print(
        f"Features: {out / 'features.csv'} ({len(result.succeeded)} row(s), {features} features); "
        f"long table: {out / 'features_long.csv'}"
    )
    print(
        f"Failures: {out / 'failures.csv'}; diagnostics: {out / 'diagnostics.json'}; "
        f"provenance: {out / 'provenance.json'}" + (f"; cache: {cache}" if cache else "")
    )
    return 0


def defaultCohortCache() -> pathlib.Path:
    """The default result cache of ``--manifest`` runs: ``$VIRTUAL_BIOPSY_CACHE/radiomics`` or
    ``~/.cache/virtual-biopsy/radiomics`` (``$XDG_CACHE_HOME`` respected). Entries are keyed by
    content (input hashes, settings, versions), so every run may share it."""
    import os

    root: str | pathlib.Path | None = os.environ.get("VIRTUAL_BIOPSY_CACHE")
    if not root:
        root = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "virtual-biopsy"
    return pathlib.Path(root).expanduser() / "radiomics"
