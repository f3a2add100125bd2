"""The MRML bridge: the only place that converts MRML nodes to and from
SimpleITK images, numpy arrays and pandas DataFrames."""
