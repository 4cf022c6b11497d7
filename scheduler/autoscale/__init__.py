"""The autoscaler: read pool signals from Redis, decide a size per pool, carry it out.

``signals`` reads, ``decision`` decides (pure), ``history`` records, ``actuators`` act and
``job`` ties them together under a ``lock`` once per beat interval.
"""
