"""The command groups of ``greenwire``: each parses arguments, wires the parts and prints.

A command module holds no service loop: services live in ``edge``, ``cloud`` and
``simulators``, and the commands resolve their settings (a config file, else the local stack)
and start them.
"""
