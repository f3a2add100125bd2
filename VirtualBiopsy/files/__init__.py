"""Writing files safely, the one home for it: a file, a file with companions, or a whole results folder appears
complete under its final name or not at all; path and extension checks; exclusive locks."""

from VirtualBiopsy.files.atomicFiles import (
    atomicOutput,
    finalPathsInErrors,
    makeTemporaryFile,
    makeTemporaryFolder,
    ordinaryFileMode,
    ordinaryFolderMode,
    sha256File,
    temporarySibling,
    writeImage,
    writeImageAtomically,
    writeTextAtomically,
)
from VirtualBiopsy.files.imageFiles import checkImageFile, readerComplaint, readImageFile
from VirtualBiopsy.files.locks import exclusiveLock
from VirtualBiopsy.files.outputChecks import MINIMUM_FREE_BYTES, checkOutputLocation, explainPathError
from VirtualBiopsy.files.outputFolders import requireNewFolder, stagedOutputFolder
from VirtualBiopsy.files.paths import extensionOf, requireExisting, requireExtension

__all__ = [
    "checkImageFile",
    "readImageFile",
    "readerComplaint",
    "MINIMUM_FREE_BYTES",
    "atomicOutput",
    "checkOutputLocation",
    "explainPathError",
    "finalPathsInErrors",
    "makeTemporaryFile",
    "makeTemporaryFolder",
    "ordinaryFileMode",
    "ordinaryFolderMode",
    "exclusiveLock",
    "extensionOf",
    "requireExisting",
    "requireExtension",
    "requireNewFolder",
    "sha256File",
    "stagedOutputFolder",
    "temporarySibling",
    "writeImage",
    "writeImageAtomically",
    "writeTextAtomically",
]
