"""Diagnosis classifiers (logistic regression, random forest, SVM, gradient boosting) with
repeated stratified cross-validation, saved model artifacts and Shapley-value explanations.

Pure pandas / scikit-learn / shapiq code; :mod:`VirtualBiopsy.outcome.classificationLogic`
runs it on table nodes.
"""
