"""Live grid carbon intensity from real providers, as one series type.

Pure core, thin async shell::

    series.py          IntensityPoint / IntensitySeries: zone, kind, basis, provider, period, actual|forecast
    errors.py          the exception tree (GridError ...), drawn in its docstring
    http.py            the one place HTTP answers become errors (429 Retry-After, 401/403, 5xx)
    neso.py            NESO Carbon Intensity API (GB national and regions; no key)
    electricitymaps.py Electricity Maps v3 (latest, history, forecast; auth-token)
    watttime.py        WattTime v3 marginal emissions (login -> token, renewed on 401)
    entsoe.py          ENTSO-E A75 generation mix -> intensity with IPCC AR5 lifecycle factors
    china.py           MEE/NBS official provincial factors as a static yearly series
    windows.py         best contiguous 1/2/4/8 h windows of an answer (the carbon engine's maths)
    hold.py            hold the last value with its age through an outage (pure)
    fetch.py           what ``greenwire grid fetch`` prints
    config.py          the ``grid run`` config: zones, providers, intervals, the hold's max age
    messages.py        one poll -> greenwire.grid.v1, the retained forecast, InfluxDB lines (pure)
    service.py         ``greenwire grid run``: a task per zone, backoff, SIGTERM (the async shell)

Every connector takes a base URL, so tests and air-gapped sites can point it at a
local server, and turns its provider's documented answer into an IntensitySeries.
"""
