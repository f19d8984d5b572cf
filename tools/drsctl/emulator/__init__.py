"""The fake Amazon: LwA, DRS v1 and a control API over one SQLite file and one virtual clock.

Start it with :func:`drsctl.emulator.server.serve` (blocking) or
:class:`drsctl.emulator.server.EmulatorThread` (tests, simulator). The HTTP surface is
fixed in ``docs/contracts.md`` section 2.
"""
