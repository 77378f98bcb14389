"""A BACnet/IP client in its own process (bacpypes3), for the BMS tests: reads objects, prints JSON.

    python -m tests.bms.bacnet_client SERVER_PORT CLIENT_PORT DEVICE_INSTANCE OBJECT [OBJECT ...]

Each OBJECT is ``analog-value,1004`` or ``multi-state-value,1001``; for each, the present
value, the object name, the reliability and (multi-state) the state texts are read with
ReadProperty from 127.0.0.1:SERVER_PORT, as a BMS front end would, and the device's object
list too. A NaN present value prints as null.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys

from bacpypes3.ipv4.app import NormalApplication
from bacpypes3.local.device import DeviceObject
from bacpypes3.pdu import Address, IPv4Address


async def main(server_port: int, client_port: int, device: int, objects: list[str]) -> None:
    me = DeviceObject(objectIdentifier=("device", 4194), objectName="test client", vendorIdentifier=999)
    app = NormalApplication(me, IPv4Address(f"127.0.0.1/32:{client_port}"))
    server = Address(f"127.0.0.1:{server_port}")
    out: dict[str, object] = {}
    try:
        listed = await app.read_property(server, f"device,{device}", "object-list")
        out["object-list"] = [f"{kind},{number}" for kind, number in listed]
        for obj in objects:
            value = await app.read_property(server, obj, "present-value")
            entry: dict[str, object] = {
                "present-value": None if isinstance(value, float) and math.isnan(value) else value,
                "object-name": str(await app.read_property(server, obj, "object-name")),
                "reliability": str(await app.read_property(server, obj, "reliability")),
            }
            if obj.startswith("multi-state"):
                entry["state-text"] = [str(s) for s in await app.read_property(server, obj, "state-text")]
            else:
                entry["units"] = str(await app.read_property(server, obj, "units"))
            out[obj] = entry
    finally:
        app.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]))
