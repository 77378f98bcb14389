"""The carbon engine: energy from counters, time-matched carbon intensity, carbon accounts.

Pure parts, tested without servers: ``factors`` (static factors, each with
its source and year), ``intensity`` (grid intensity series; a value holds for
its period), ``energy`` (energy from cumulative counters: deltas, rollover,
resets, rejected jumps, gaps spread and flagged estimated), ``account``
(minute buckets and location-based Scope 2 emissions, energy matched to the
factor of the minute it was used).
"""
