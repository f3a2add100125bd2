"""Harmonization: make images from different scanners and sites comparable."""
