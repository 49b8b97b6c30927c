"""Stockroom's Python test kit, shared by the integration suite (Tests/Integration) and the fault
suite (Tests/Faults). Only the standard library, `requests` and `pytest`.

    stack         the private stack: environment, processes, signals, logs, nginx, the database
    client        `Api` (HTTP through nginx), the contract's shapes (assert_*), users, orders
    fastcgi       the FastCGI client: forged records, and whole requests straight to a responder
    nginx         private nginx instances (PrivateNginx)
    chaos         the fault suite's order load, held row locks, the checks after every case
    plugin        pytest plugin: the shared fixtures and the "observations" summary
    chaos_plugin  pytest plugin of the fault suite: its fixtures and the guards around every case

scripts/lib/test-stack.sh puts this folder on PYTHONPATH; the scripts load the plugins with
`-p stockroom_kit.plugin` (and `-p stockroom_kit.chaos_plugin` for the fault suite).
"""
