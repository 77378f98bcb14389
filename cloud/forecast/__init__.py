"""Day-ahead forecasts of a building's energy and emissions, with a P10-P90 band.

Data flow (pure except ``store`` and ``service``)::

    counter readings ─▶ series (hourly kWh, the carbon engine's counter interpretation)
        ─▶ features (calendar, holidays, recent load) ─▶ model (quantile boosting, calibrated band)
        ─▶ backtest (rolling origin vs the seasonal-naive forecast)
        ─▶ store (InfluxDB ``carbon_forecast``: kWh and kgCO2e, P10/P50/P90, model version, window)
"""
