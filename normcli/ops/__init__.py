"""The operations: one function per command over a :class:`~normcli.pipeline.Job` (a source of
Arrow record batches), writing to a :class:`~normcli.sinks.Sink` or returning a result.

The command line (:mod:`normcli.cli`) and the Python API (:mod:`normcli.api`) both call these;
nothing here imports Click or pandas. (They live in a sub-package because ``normcli.normalize``,
``normcli.norm``, ``normcli.fit`` and ``normcli.predict`` are the public API functions.)
"""
