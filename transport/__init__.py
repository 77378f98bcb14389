"""Transport shared by the gateway and the cloud: how readings leave a process and reach the broker.

- ``buffer``: the store-and-forward buffer (SQLite on a gateway, memory for a one-shot import):
  every reading is on disk before it is published, a batch is deleted only once it is confirmed.
- ``publisher``: the MQTT publisher that drains a buffer at QoS 1 with a retained birth message
  and last will, reconnecting with capped backoff and jitter.

The edge agent, the history import (``greenwire import readings``) and the cloud services
publish through this package; it imports only :mod:`greenwire.shared`.
"""
