"""Anomalies in a building's meters, found before the bill (see ``detect``)."""
