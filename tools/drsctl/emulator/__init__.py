"""The fake Amazon: LwA, DRS v1, SP-API Orders v0, MWS GetOrder and a control API.

One SQLite file (:mod:`.store`) and one virtual clock behind one request pipeline
(:mod:`.pipeline`). Start it with :func:`drsctl.emulator.server.serve` (blocking) or
:class:`drsctl.emulator.server.EmulatorThread` (tests, simulator). The HTTP surface and the
module layout are in ``docs/contracts.md`` section 2.
"""
