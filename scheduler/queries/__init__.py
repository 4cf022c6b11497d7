"""Slow-query analysis for MongoDB: read operations, group them by query shape, advise indexes.

The flow is ``readers`` (mongod log, system.profile, listener stream) → ``record.QueryRecord``
→ ``shapes`` (values masked, operators classified, stable hash) → ``stats`` (per-shape
percentiles and work) → ``advice`` (ESR index suggestions) → ``analysis.Report``.
"""
