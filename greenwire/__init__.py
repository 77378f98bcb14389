"""greenwire: the composition root.

The command line (``cli``, ``commands``), the local stack (``stack``, ``servers``), deployment
credentials (``access``, ``pki``) and the demo wire the parts together. The parts themselves
(``greenwire.shared``, ``greenwire.transport``, ``greenwire.edge``, ``greenwire.cloud``,
``greenwire.simulators``) live in the repository's top-level folders of those names and never
import this package's modules (checked by ``tests/unit/test_layout.py``).
"""

from __future__ import annotations

from greenwire.shared.version import __version__

__all__ = ["__version__"]
