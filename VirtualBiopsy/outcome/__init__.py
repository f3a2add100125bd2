"""Outcome modelling: patient groups, survival analysis and predictions with their evidence."""
