"""Grafana as code: the dashboards (``dashboards.py``), their builder (``model.py``), Grafana's
query substitution (``macros.py``), JSON output (``build.py``) and upload (``push.py``)."""
