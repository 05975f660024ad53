"""Engines: where the operations run. ``local`` is :mod:`normcli.ops` on this machine (no
module here is imported for it); ``dask`` (:mod:`normcli.engines.dask_engine`) runs them on a
Dask cluster, one task per input file.
"""
