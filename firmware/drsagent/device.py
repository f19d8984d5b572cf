# The device loop (main.py is a two-line stub that calls main(), so the board never
# compiles this from source in its heap): Wi-Fi and time first, then the agent loop
# forever. Nothing here may raise out of the loop: a crash would reboot into the same
# crash (a crash loop).
import time

from drsagent import log
from drsagent.compat import collect, const

_RESYNC_S = const(86400)  # NTP again once a day: the ESP32 RTC drifts seconds per day
_ERROR_WAIT_S = const(60)  # with a config error, re-check the files every minute


def _network(store, clock, last_sync):
    """Bring up Wi-Fi (boards only) and set the clock; returns the last sync time."""
    try:
        from drsagent.hal import ntp, wifi
    except ImportError:  # no `network` module (the unix port: the host has networking)
        return last_sync
    try:
        secrets = store.load_secrets()
    except Exception:  # the agent reports the config error; without Wi-Fi we just wait
        return last_sync
    if not wifi.connect(secrets):
        log.warn("main: wifi not connected")
        return last_sync
    if not clock.is_set() or clock.now() - last_sync >= _RESYNC_S:
        if ntp.sync():
            return clock.now()
        log.warn("main: ntp failed")
    return last_sync


def main():
    from drsagent.agent import Agent
    from drsagent.hal.clock import SystemClock
    from drsagent.store import FlashStore

    store = FlashStore()
    clock = SystemClock()
    agent = None
    last_sync = 0
    while True:
        interval = _ERROR_WAIT_S
        try:
            last_sync = _network(store, clock, last_sync)
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
        # time.sleep keeps Wi-Fi associated; machine.lightsleep would save power but
        # drops the connection on ESP32, costing a reconnect + DHCP per loop.
        time.sleep(interval)
