"""Virtual Biopsy: from a patient's MR images to an evidence-backed estimate of outcome.

The Qt-free library shared by the 3D Slicer modules, the Python console and the
``virtual-biopsy`` command.  Every stage works on MRML nodes of a scene that is
passed in; :mod:`VirtualBiopsy.mrml` is the only place that converts nodes to
arrays, SimpleITK images or DataFrames.
"""

__version__ = "0.1.0"
