"""Segmentation models: the manifest, import and verification of model files, safe checkpoint loading."""
