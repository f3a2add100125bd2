"""Errors raised by Virtual Biopsy.

Every message says what failed, the offending value and how to fix it.
"""


class VirtualBiopsyError(Exception):
    """Base class of every error this library raises on purpose."""


class InputError(VirtualBiopsyError, ValueError):
    """An input file, node, table or setting is missing, unreadable or invalid."""


class GeometryError(InputError):
    """Images or masks do not share the grid, dimension or orientation an operation needs."""


class DependencyError(VirtualBiopsyError, ImportError):
    """A Python package a feature needs is not installed.

    :ivar package: the pip name of the missing package, when known (the Slicer modules turn it into
        the install command that works inside Slicer).
    """

    def __init__(self, message: str = "", package: str | None = None) -> None:
        super().__init__(message)
        self.package = package


class ModelError(VirtualBiopsyError):
    """A model is missing, does not match its manifest or failed to run."""


class CancelledError(VirtualBiopsyError):
    """The user cancelled a long-running operation."""


def requirePackage(moduleName: str, pipName: str | None = None):
    """Import ``moduleName`` or raise :class:`DependencyError` with the install command.

    :param moduleName: importable module name, e.g. ``"radiomics"``.
    :param pipName: the PyPI package that provides it, if it differs.
    :returns: the imported module.
    """
    import importlib

    try:
        return importlib.import_module(moduleName)
    except ImportError as error:
        package = pipName or moduleName
        inSlicer = (
            "install torch with the PyTorch extension's PyTorch Utils module"
            if package == "torch"
            else f"type slicer.util.pip_install('{package}') in the Python console"
        )
        raise DependencyError(
            f"The Python package '{package}' is needed but could not be imported ({error}). "
            f"Install it with: python -m pip install -c constraints.txt {package} (from the project folder); "
            f"inside 3D Slicer, run the module's action again to install it, or {inSlicer}",
            package=package,
        ) from error
