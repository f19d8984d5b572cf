"""Wiring pictures for docs/hardware.md.

One SVG per sensor, drawn from the pins that ``boards/ESP32_GENERIC/board.json`` gives
slot 0, so the pictures and the pin map cannot disagree. Regenerate with
``python -m drsctl.board.wiring docs/wiring``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from drsctl.board.boards import BOARDS_DIR


@dataclass(frozen=True)
class Wire:
    """One wire: the ESP32 side, the sensor side, its colour and a note on the wire."""

    board_pin: str
    sensor_pin: str
    colour: str
    note: str = ""


POWER_3V3 = Wire("3V3", "VCC", "#d62728")
POWER_5V = Wire("5V (VIN)", "VCC", "#d62728")
GROUND = Wire("GND", "GND", "#222222")


def _wires(sensor: str, pins: dict[str, int]) -> tuple[str, list[Wire]]:
    """The sensor's title and its wires for the slot-0 pins of board.json."""
    if sensor == "hx711":
        return "HX711 load-cell amplifier", [
            POWER_3V3,
            GROUND,
            Wire(f"GPIO{pins['dout']}", "DT (DOUT)", "#1f77b4"),
            Wire(f"GPIO{pins['sck']}", "SCK", "#2ca02c"),
        ]
    if sensor == "vl53l0x":
        return "VL53L0X time-of-flight sensor", [
            POWER_3V3,
            GROUND,
            Wire(f"GPIO{pins['sda']}", "SDA", "#1f77b4", "I2C, 400 kHz"),
            Wire(f"GPIO{pins['scl']}", "SCL", "#2ca02c"),
        ]
    if sensor == "ultrasonic":
        return "HC-SR04 ultrasonic sensor", [
            POWER_5V,
            GROUND,
            Wire(f"GPIO{pins['trig']}", "TRIG", "#2ca02c"),
            Wire(f"GPIO{pins['echo']}", "ECHO", "#1f77b4", "1k / 2k divider: 5 V -> 3.3 V"),
        ]
    if sensor == "adc":
        return "Analog level (float sender in a divider)", [
            POWER_3V3,
            GROUND,
            Wire(f"GPIO{pins['pin']}", "OUT (divider middle)", "#1f77b4", "ADC1 pin, 0-3.1 V"),
        ]
    if sensor == "counter":
        wires = [GROUND, Wire(f"GPIO{pins['pin']}", "dose switch", "#1f77b4", "pull-up inside")]
        if "refill_pin" in pins:
            wires.append(Wire(f"GPIO{pins['refill_pin']}", "refill / lid switch", "#2ca02c"))
        return "Dose counter (pump cam or flow switch)", wires
    raise ValueError(f"no wiring picture for {sensor!r}")


def draw(sensor: str, pins: dict[str, int], path: Path) -> Path:
    """Draw the wiring of one sensor into path (SVG, no timestamp: reproducible)."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "drsagent"  # stable ids: the same file each run
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text (small, searchable)
    from matplotlib import pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    title, wires = _wires(sensor, pins)
    height = 1.2 + 0.8 * len(wires)
    fig, ax = plt.subplots(figsize=(7.5, height * 0.75))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, height)
    ax.axis("off")
    for x, label in ((0.4, "ESP32"), (6.6, title)):
        ax.add_patch(
            FancyBboxPatch(
                (x, 0.3), 3.0, height - 0.9, boxstyle="round,pad=0.05", fc="#f2f2f2", ec="#555"
            )
        )
        ax.text(x + 1.5, height - 0.35, label, ha="center", va="center", fontsize=10, wrap=True)
    for i, wire in enumerate(wires):
        y = height - 1.2 - 0.8 * i
        ax.plot([3.4, 6.6], [y, y], color=wire.colour, lw=2.5, solid_capstyle="round")
        ax.text(3.3, y, wire.board_pin, ha="right", va="center", fontsize=9, family="monospace")
        ax.text(6.7, y, wire.sensor_pin, ha="left", va="center", fontsize=9, family="monospace")
        if wire.note:
            ax.text(5.0, y + 0.12, wire.note, ha="center", va="bottom", fontsize=7, color="#444")
    fig.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return path


def draw_all(out_dir: Path) -> list[Path]:
    """One SVG per sensor of the ESP32_GENERIC pin map (slot 0) into out_dir."""
    board = json.loads((BOARDS_DIR / "ESP32_GENERIC" / "board.json").read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for sensor, slots in board["pins"].items():
        if isinstance(slots, list):
            pins = {k: v for k, v in slots[0].items() if k not in ("slot", "bus")}
            paths.append(draw(sensor, pins, out_dir / f"{sensor}.svg"))
    return paths


if __name__ == "__main__":
    for written in draw_all(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/wiring")):
        print(written)
