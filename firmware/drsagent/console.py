# The setup console on the USB serial port (docs/provisioning.md): Improv Wi-Fi serial
# for the Wi-Fi settings plus our own setup frames (JSON) for the configuration, the
# slots, calibration, LwA credentials, status, a DRS check and factory reset.
#
# It owns the port while the device loop waits for its next pass (serve() replaces
# the loop's sleep), so it answers within a second with the REPL disabled, and log
# lines share the port (they always end their line before a frame goes out).
# Only the loop that collects frames stays in the heap; what answers them (setup.py)
# is imported per frame and unloaded again (compat.run_once).
import sys
import time

from drsagent import improv, log
from drsagent.compat import const, run_once

_FRAME_MAX = const(2048)  # longest frame accepted (a slot list of a few slots)
_FRAME_GAP_MS = const(500)  # a frame quiet this long is dropped as truncated
_SETTLE_MS = const(2000)  # after a change, wait this long for more before the reload
_CTRL_C = const(3)
_IMPROV_INVALID_RPC = const(0x01)
_RECENT_LINES = const(8)  # warnings and errors kept for the "log" command


def _keyboard_interrupt(char):
    try:
        import micropython

        micropython.kbd_intr(char)
    except (ImportError, AttributeError):  # CPython
        pass


class Console:
    def __init__(self, store, clock):
        import select

        self.store = store
        self.clock = clock
        self.reader = improv.FrameReader(_FRAME_MAX)
        self.stdin = getattr(sys.stdin, "buffer", sys.stdin)
        self.stdout = getattr(sys.stdout, "buffer", sys.stdout)
        self.poller = select.poll()
        self.poller.register(sys.stdin, select.POLLIN)
        self.agent = None  # the running agent (status), during serve() only
        self.changes = 0  # files written by this serve() call
        self.recent = []  # the last warnings and errors (scrubbed), for "log"
        log.set_log_sink(self.log_line)

    def log_line(self, line):
        """Every log line goes to the port; warnings and errors are also kept, so a
        desktop that connects later still sees what went wrong."""
        sys.stderr.write(line + "\n")
        if line[:1] in ("W", "E"):
            recent = self.recent
            if len(recent) >= _RECENT_LINES:
                recent.pop(0)
            recent.append(line)

    def serve(self, seconds, agent=None):
        """Answer frames for `seconds` (the loop's wait); True when the files changed.

        Returns early, _SETTLE_MS after the last change, so the agent reloads soon."""
        self.agent = agent
        self.changes = 0
        now = time.ticks_ms
        deadline = time.ticks_add(now(), int(seconds * 1000))
        reader = self.reader
        # 0x03 is a frame's type byte: no Ctrl-C from the console while we own it.
        _keyboard_interrupt(-1)
        try:
            while True:
                left = time.ticks_diff(deadline, now())
                if left <= 0:
                    break
                pending = reader.pending()
                ready = self.poller.poll(_FRAME_GAP_MS if pending else min(left, 1000))
                if not ready:
                    if pending:
                        reader.drop()
                        self.refuse(pending, "truncated frame dropped")
                    continue
                b = self.stdin.read(1)
                if not b:  # the port closed (a pipe on the desktop): just wait
                    time.sleep_ms(min(left, 1000))
                    continue
                b = b[0]
                if b == _CTRL_C and not pending:
                    # Outside a frame it is a Ctrl-C: stop to the REPL (mpremote).
                    raise KeyboardInterrupt
                frame = reader.feed(b)
                if frame is not None:
                    changes = self.changes
                    try:
                        run_once("setup", "handle", self, frame)
                    except Exception as e:  # the console must not stop the device loop
                        log.error("console: %s: %s" % (type(e).__name__, e))
                    if self.changes != changes:  # more may follow: then reload
                        deadline = time.ticks_add(now(), _SETTLE_MS)
        finally:
            _keyboard_interrupt(_CTRL_C)
            self.agent = None
        return self.changes > 0

    def send(self, header, kind, data):
        self.stdout.write(improv.encode(header, kind, data))
        if hasattr(self.stdout, "flush"):
            self.stdout.flush()

    def refuse(self, header, why):
        """A clear error on both sides: a log line here, an error frame there."""
        log.warn("console: " + why)
        if header == improv.IMPROV:
            self.send(improv.IMPROV, improv.TYPE_ERROR, bytes((_IMPROV_INVALID_RPC,)))
        else:
            import json

            reply = json.dumps({"ok": False, "error": why}).encode()
            self.send(improv.SETUP, improv.TYPE_REPLY, reply)
