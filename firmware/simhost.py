# Simulator link (docs/contracts.md section 3): one JSON tick per stdin line ->
# agent.step() -> event lines and a closing {"ev":"tick",...} line on stdout.
# Runs unchanged under the MicroPython unix port and CPython; cwd is the flash root.
# Desktop only (not in the device image); firmware/sim_main.py is a two-line stub so
# that nothing big is compiled from source in the heap.
import gc
import json
import sys

from drsagent import log
from drsagent.hal import sim


def main():
    def write(d):
        sys.stdout.write(json.dumps(d))
        sys.stdout.write("\n")
        sys.stdout.flush()  # the harness waits for each line

    log.set_event_sink(write)
    log.set_log_sink(lambda line: sys.stderr.write(line + "\n"))
    from drsagent.agent import Agent
    from drsagent.store import FlashStore

    mp = hasattr(gc, "mem_free")  # MicroPython: report the heap with each tick
    clock = sim.SimClock()
    agent = None
    while True:
        line = sys.stdin.readline()
        if not line:
            break  # EOF: the harness closed the link
        line = line.strip()
        if not line:
            continue
        try:
            try:
                msg = json.loads(line)
            except ValueError:
                # CPython's json.dumps writes NaN/Infinity for float garbage, which
                # MicroPython's json rejects; as strings they are still garbage readings.
                for w in "-Infinity Infinity NaN".split():
                    line = line.replace(w, '"nan"')
                msg = json.loads(line)
            clock.set(msg["t"])
            sim.RAW.clear()
            sim.RAW.update(msg.get("raw") or {})
        except Exception as e:
            log.error("sim: bad tick line: %s" % e)
        else:
            try:
                if agent is None:  # boot on the first tick: the clock is set by then
                    agent = Agent.from_flash(FlashStore(), clock)
                agent.step()
            except Exception as e:  # like main.py: log, keep running
                log.error("sim: step failed: %s: %s" % (type(e).__name__, e))
                if mp:
                    sys.print_exception(e, sys.stderr)
        msg = line = None
        if mp:  # the heap figures below are after a full collection (CPython: no need)
            gc.collect()
        write(
            {
                "ev": "tick",
                "t": clock.now(),
                "mem_free": gc.mem_free() if mp else -1,
                "mem_alloc": gc.mem_alloc() if mp else -1,
            }
        )
