# The device loop (main.py is a two-line stub that calls main(), so the board never
# compiles this from source in its heap): Wi-Fi and time first, then the agent loop
# forever. Nothing here may raise out of the loop: a crash would reboot into the same
# crash (a crash loop).
from drsagent import log
from drsagent.compat import collect, const, run_once

_RESYNC_S = const(86400)  # NTP again once a day: the ESP32 RTC drifts seconds per day
_ERROR_WAIT_S = const(60)  # with a config error, re-check the files every minute


def _network(store, clock, last_sync, status=None):
    """Bring up Wi-Fi (boards only) and set the clock; returns the last sync time.
    status: the status-LED hook (board.Board.status). NTP runs before the agent's
    first TLS call; without a set clock the agent orders nothing."""
    try:
        from drsagent.hal import ntp, wifi
    except ImportError:  # no `network` module (the unix port: the host has networking)
        return last_sync
    try:
        secrets = run_once("config", "load_secrets", store)
    except Exception:  # the agent reports the config error; without Wi-Fi we just wait
        return last_sync
    if not wifi.connect(secrets, status=status):
        log.warn("main: wifi not connected")
        return last_sync
    if not clock.is_set() or clock.now() - last_sync >= _RESYNC_S:
        if ntp.sync():
            return clock.now()
        log.warn("main: ntp failed")
    return last_sync


def main():
    from drsagent.agent import Agent
    from drsagent.board import Board
    from drsagent.console import Console
    from drsagent.hal.clock import SystemClock
    from drsagent.store import FlashStore

    store = FlashStore()
    clock = SystemClock()
    board = Board.start(store, clock)  # watchdog, LED, the schedule after a deep sleep
    console = Console(store, clock)
    agent = None
    while True:
        interval = _ERROR_WAIT_S
        try:
            board.feed()
            board.last_sync = _network(store, clock, board.last_sync, board.status)
            board.feed()
            if agent is None:
                agent = Agent.from_flash(store, clock)
            agent.step()
            if agent.config is not None:
                interval = agent.config["loop_interval_s"]
        except Exception as e:  # includes MemoryError: log it and try again next loop
            try:
                log.error("main: %s: %s" % (type(e).__name__, e))
            except Exception:
                pass
        collect()
        # Awake, waiting keeps Wi-Fi associated (machine.lightsleep would drop it on ESP32,
        # a reconnect + DHCP per loop); battery devices set board.deep_sleep instead. The
        # setup console owns the port while we wait; files it changed are reloaded.
        if board.pause(board.next_wait(interval), lambda s, agent=agent: console.serve(s, agent)):
            if agent is not None:
                agent.config = None
