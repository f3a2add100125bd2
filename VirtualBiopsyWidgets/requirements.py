"""Install what ONE action needs, when the user starts it (3D Slicer only).

Each module keeps one pip requirements file per action in ``Resources/Requirements/<module>/<action>.txt``
(the threshold segmentation does not ask for MONAI and nnU-Net). A ``torch`` line is never handed to pip:
torch comes first, through the PyTorch extension's ``PyTorchUtilsLogic`` (it picks the build that suits the
GPU driver, as SlicerMONAIAuto3DSeg and SlicerTotalSegmentator do), and the other packages are then
installed with a constraint that keeps that torch build, so that MONAI or nnU-Net cannot pull another one
from PyPI.

Installation goes through ``slicer.packaging.pip_ensure`` (Slicer 5.12+: asks the user, shows progress),
else ``slicer.util.pip_install`` after a confirmation. In testing mode nothing is asked; the self-tests call
:func:`ensureActionRequirements` with ``install=True`` so that they run in a Slicer that has only what the
extension installs.
"""

from __future__ import annotations

import importlib.metadata
import logging
import pathlib
import re
import tempfile

import slicer

from VirtualBiopsy.errors import DependencyError

logger = logging.getLogger(__name__)

#: The requirement name that the PyTorch extension installs instead of pip.
TORCH = "torch"


def readRequirements(path: str | pathlib.Path) -> list[str]:
    """Return the requirement lines of a pip requirements file, without comments or blanks."""
    lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def requirementName(requirement: str) -> str:
    """The distribution name of a requirement line (``"monai>=1.3"`` → ``"monai"``), lower case."""
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def missingRequirements(requirements: list[str]) -> list[str]:
    """The requirements whose distribution is not installed or whose version does not match."""
    return [requirement for requirement in requirements if not _isSatisfied(requirement)]


def installCommand(requirements: list[str]) -> str:
    """What a user types in Slicer's Python console to install ``requirements`` by hand."""
    others = [requirement for requirement in requirements if requirementName(requirement) != TORCH]
    steps = []
    if len(others) < len(requirements):
        steps.append("import PyTorchUtils; PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=True)")
    if others:
        steps.append("slicer.util.pip_install(" + repr(" ".join(others)) + ")")
    return "; ".join(steps)


def ensureActionRequirements(path: str | pathlib.Path, requester: str, install: bool | None = None) -> None:
    """Make the packages listed in ``path`` importable, installing the missing ones.

    :param install: ``None`` (the panel): ask the user first, and skip installing in testing mode;
        ``True`` (the self-tests): install without asking, also in testing mode.
    :raises DependencyError: when the user declines, the PyTorch extension is missing, or the
        installation did not give the packages; the message says how to install them by hand.
    """
    requirements = readRequirements(path)
    missing = missingRequirements(requirements)
    if not missing:
        return
    testing = slicer.app.testingEnabled()
    if install is None and testing:
        logger.info("Testing mode: not installing %s", ", ".join(missing))
        return
    if install is None and not slicer.util.confirmOkCancelDisplay(
        _(
            "{requester} needs these Python packages for this action:\n\n{packages}\n\nInstall them now? "
            "(This can take several minutes; torch comes from the PyTorch extension.)"
        ).format(requester=requester, packages="\n".join(missing)),
        _("{requester}: install Python packages").format(requester=requester),
    ):
        raise DependencyError(
            f"{requester} needs {', '.join(missing)}. Install them in Slicer's Python console "
            f"with: {installCommand(missing)} (or accept the installation when asked)."
        )
    if any(requirementName(requirement) == TORCH for requirement in missing):
        _installTorch(next(r for r in missing if requirementName(r) == TORCH), requester)
    others = [requirement for requirement in missing if requirementName(requirement) != TORCH]
    if others:
        _pipInstall(others, requester)
    still = missingRequirements(requirements)
    if still:
        raise DependencyError(
            f"{requester} could not install {', '.join(still)}. Install them in Slicer's Python "
            f"console with: {installCommand(still)}, then restart Slicer."
        )


def ensureForSelfTest(moduleFile: str | pathlib.Path, moduleName: str, actions: tuple[str, ...]) -> None:
    """Install, without asking, what ``actions`` of the module whose file is ``moduleFile`` need (its
    ``Resources/`` sit beside it, in a checkout and in the built extension alike)."""
    folder = pathlib.Path(moduleFile).resolve().parent / "Resources" / "Requirements" / moduleName
    for action in actions:
        ensureActionRequirements(folder / f"{action}.txt", requester=f"{moduleName} self-test", install=True)


def _installTorch(requirement: str, requester: str) -> None:
    """torch through the PyTorch extension (never from pip: its default build may not suit the GPU)."""
    try:
        import PyTorchUtils
    except ModuleNotFoundError as error:
        raise DependencyError(
            f"{requester} needs torch from the PyTorch extension, which is not installed: "
            "install 'PyTorch' in the Extensions Manager and restart Slicer."
        ) from error
    specifier = requirement[len(requirementName(requirement)) :].strip() or None
    torch = PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=False, torchVersionRequirement=specifier)
    if torch is None:
        raise DependencyError(
            f"{requester} needs torch; install it with the PyTorch Utils module "
            "(Utilities > PyTorch Utils > Install PyTorch)."
        )


def _pipInstall(requirements: list[str], requester: str) -> None:
    """pip-install ``requirements`` with the installed torch (if any) pinned as a constraint."""
    constraints = None
    try:
        torchVersion = importlib.metadata.version(TORCH)
    except importlib.metadata.PackageNotFoundError:
        torchVersion = None
    with tempfile.TemporaryDirectory(prefix="VirtualBiopsy-pip-") as folder:
        if torchVersion is not None:
            constraints = pathlib.Path(folder) / "constraints.txt"
            constraints.write_text(f"{TORCH}=={torchVersion}\n", encoding="utf-8")
        try:
            import slicer.packaging as packaging
        except ImportError:
            packaging = None
        if packaging is not None and hasattr(packaging, "pip_ensure"):
            packaging.pip_ensure(
                requirements, constraints=constraints, prompt_install=False, requester=requester, skip_in_testing=False
            )
        else:
            arguments = list(requirements) + (["-c", str(constraints)] if constraints else [])
            slicer.util.pip_install(arguments)


def _isSatisfied(requirement: str) -> bool:
    from packaging.requirements import Requirement

    parsed = Requirement(requirement)
    if parsed.marker is not None and not parsed.marker.evaluate():
        return True
    try:
        version = importlib.metadata.version(parsed.name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return parsed.specifier.contains(version, prereleases=True)


def _(text: str) -> str:
    from slicer.i18n import tr

    return tr(text)
