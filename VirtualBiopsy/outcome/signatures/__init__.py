"""Radiomic signatures: variance filter, correlation pruning, varimax factor analysis, LASSO and RFE selection."""
