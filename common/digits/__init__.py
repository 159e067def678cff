"""The 8×8 digits of scikit-learn: data, a classifier and its metrics, the cached pretrained models.

Modules: ``data`` (loading and grids), ``metrics`` (classifier, FD and accuracy), ``models`` (the
digits DDPM and classifier, trained once and cached).
"""
