"""The carbon engine: energy from counters, time-matched carbon intensity, carbon accounts.

Pure parts, tested without servers: ``factors`` (static factors, each with
its source and year), ``intensity`` (grid intensity series; a value holds for
its period), ``energy`` (energy from cumulative counters: deltas, rollover,
resets, rejected jumps, gaps spread and flagged estimated), ``emissions``
(minute buckets and location-based Scope 2 emissions, energy matched to the
factor of the minute it was used), ``report`` (a building's account over a
period), ``results`` (the stored 1m/1h/1d/1mo rows and the live figures),
``facts`` (the daily and yearly account points), ``budget`` (the year's
projection and status), ``care`` (a site's emissions per participant-day),
``statement`` and ``feed`` (the grid feed's messages). They compute over data
already read and import no client.

Reading: ``fetch`` (through ``greenwire.cloud.adapters.influxql.InfluxQLClient``).
Running: ``live`` (one building's update), ``service`` (``greenwire carbon run``:
the async service with the grid feed and the carbon signal), ``backfill``
(``greenwire carbon backfill``) and ``pdf`` (printing a statement with Chromium).
"""
