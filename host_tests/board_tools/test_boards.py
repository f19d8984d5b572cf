"""The board folders: manifests that resolve, pin maps the drivers accept (no pin used
twice), offsets that match the flasher, wiring pictures in step with the pin map."""

import json
import sys
from pathlib import Path

import pytest
from drsctl.board.boards import BOARDS_DIR
from drsctl.board.flash import CHIP_OFFSETS
from drsctl.board.wiring import draw_all
from drsctl.firmware import firmware_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "board_hw"))
sys.path.insert(0, str(firmware_dir()))
from fakehw import FakeMachine, installed_modules  # noqa: E402

BOARDS = ["ESP32_GENERIC", "ESP32_S3", "ESP32_C3"]
REPO = BOARDS_DIR.parent


def board_json(board: str) -> dict:
    return json.loads((BOARDS_DIR / board / "board.json").read_text())


@pytest.mark.parametrize("board", BOARDS)
def test_manifest_freezes_the_agent_package(board):
    """Run manifest.py as MicroPython's manifest tool would, recording what it asks."""
    frozen, includes = [], []

    def run(path: Path) -> None:
        def include(name: str) -> None:
            if name.startswith("$(PORT_DIR)"):
                includes.append(name)
                return
            run((path.parent / name).resolve())

        def package(name: str, base_path: str = ".", opt: int = 0) -> None:
            frozen.append(((path.parent / base_path / name).resolve(), opt))

        exec(path.read_text(), {"include": include, "package": package})

    run(BOARDS_DIR / board / "manifest.py")
    assert includes == ["$(PORT_DIR)/boards/manifest.py"]  # MicroPython's own modules
    assert frozen == [((REPO / "firmware" / "drsagent").resolve(), 2)]
    assert (REPO / "firmware" / "drsagent" / "agent.py").exists()


@pytest.mark.parametrize("board", BOARDS)
def test_board_json_matches_the_flasher(board):
    info = board_json(board)
    assert info["board"] == board
    assert int(info["flash_offset"], 16) == CHIP_OFFSETS[info["chip"]]
    assert info["micropython_board"] in (BOARDS_DIR / board / "README.md").read_text()


@pytest.mark.parametrize("board", BOARDS)
def test_pin_map_builds_every_sensor_and_uses_each_pin_once(board):
    from drsagent import config
    from drsagent.boot import make_sensor
    from drsagent.hal import SENSOR_DRIVERS

    pins = board_json(board)["pins"]
    used: dict[int, str] = {}
    buses: dict[int, tuple[int, int]] = {}
    for what in ("status_led", "button"):
        if pins[what] is not None:
            used[pins[what]] = what
    for driver, slots in pins.items():
        if not isinstance(slots, list):
            continue
        assert driver in SENSOR_DRIVERS
        keys = __import__("drsagent.hal." + driver, None, None, ("SENSOR_KEYS",), 0).SENSOR_KEYS
        for entry in slots:
            sensor = {k: v for k, v in entry.items() if k != "slot"}
            config._check("config.json", sensor, keys, f"{board}.{driver}.")
            if "bus" in sensor:  # one I2C bus = one sda/scl pair, shared by its chips
                pair = buses.setdefault(sensor["bus"], (sensor["sda"], sensor["scl"]))
                assert pair == (sensor["sda"], sensor["scl"]), f"{driver}: bus {sensor['bus']}"
            pin_keys = [item.split()[0] for item in keys.split(", ") if item.split()[1][0] == "i"]
            for key, pin in sensor.items():
                if key not in pin_keys or key == "bus":  # GPIO numbers only
                    continue
                where = f"{driver} slot {entry['slot']} {key}"
                assert pin not in used, f"GPIO{pin}: {where} and {used[pin]}"
                used[pin] = where
            slot = {"id": f"s{entry['slot']}", "sensor": dict(sensor, driver=driver)}
            with installed_modules(machine=FakeMachine()):
                assert callable(make_sensor(slot))


def test_wiring_pictures_are_in_step_with_the_pin_map(tmp_path):
    for path in draw_all(tmp_path):
        committed = REPO / "docs" / "wiring" / path.name
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed.name} is stale: python -m drsctl.board.wiring docs/wiring"
        )
    assert len(list((REPO / "docs" / "wiring").glob("*.svg"))) == 5
