"""Simulators: field devices that replay real recorded data, for installers, demos and CI.

``series`` loads recorded meter data and replays it at a chosen speed with
counters that accumulate like a real meter's; ``sdm630`` lays a meter's state
out in the Eastron SDM630 register map; ``modbus_meter`` serves it over
Modbus TCP with pymodbus.
"""
