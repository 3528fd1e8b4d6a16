"""The Dask engine's core: a cluster, lazy Parquet, the split, the preprocessing fit and external-memory xgboost.

Nothing else in `components/core` imports this package at import time: dask is an optional
dependency (`pip install 'sealtrain[dask]'`), and each module here imports it at its top.
"""
