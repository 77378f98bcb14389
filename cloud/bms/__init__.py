"""The carbon signal in a building-management system's own protocols: Modbus TCP and BACnet/IP.

Pure core, thin async shell::

    registers.py   the versioned register map and object list (from ``bms-points.json``), pure
    encode.py      a ``greenwire.carbon.v1`` signal -> register words and object values, pure
    source.py      the retained signals from the broker, kept per building (aiomqtt)
    modbus.py      a pymodbus Modbus TCP server shell over the encoded registers
    bacnet.py      a bacpypes3 BACnet/IP device shell over the encoded objects
"""
