# Simulator link (docs/contracts.md section 3): one JSON tick per stdin line ->
# agent.step() -> event lines and a closing {"ev":"tick",...} line on stdout.
# Runs unchanged under the MicroPython unix port and CPython; cwd is the flash root.
# Desktop only (not in the device image); firmware/sim_main.py is a two-line stub so
# that nothing big is compiled from source in the heap.
import json
import sys

from drsagent import log
from drsagent.compat import collect, mem_alloc, mem_free
from drsagent.hal import sim


def _out(d):
    sys.stdout.write(json.dumps(d))
    sys.stdout.write("\n")
    sys.stdout.flush()  # the harness waits for each line


def _err(line):
    sys.stderr.write(line)
    sys.stderr.write("\n")


def _parse(line):
    try:
        return json.loads(line)
    except ValueError:
        # CPython's json.dumps writes NaN/Infinity for float garbage, which
        # MicroPython's json rejects; as strings they are still garbage readings.
        line = line.replace("-Infinity", '"-inf"').replace("Infinity", '"inf"')
        return json.loads(line.replace("NaN", '"nan"'))


def _trace(e):
    try:
        sys.print_exception(e, sys.stderr)  # MicroPython
    except AttributeError:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)


def main():
    log.set_event_sink(_out)
    log.set_log_sink(_err)
    from drsagent.agent import Agent
    from drsagent.store import FlashStore

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
            msg = _parse(line)
            clock.set(msg["t"])
            sim.RAW.clear()
            raw = msg.get("raw") or {}
            for k in raw:
                sim.RAW[k] = raw[k]
        except Exception as e:
            log.error("sim: bad tick line: %s" % e)
        else:
            try:
                if agent is None:  # boot on the first tick: the clock is set by then
                    agent = Agent.from_flash(FlashStore(), clock)
                agent.step()
            except Exception as e:  # like main.py: log, keep running
                log.error("sim: step failed: %s: %s" % (type(e).__name__, e))
                _trace(e)
        collect()
        _out({"ev": "tick", "t": clock.now(), "mem_free": mem_free(), "mem_alloc": mem_alloc()})

