"""An ESP Web Tools ``manifest.json`` for a frozen build: browser flashing.

ESP Web Tools (the ESP world's "Install" button on a web page) reads a manifest that
names the image for each chip family and its offset; ``improv: true`` tells it that
the firmware speaks Improv Wi-Fi on the serial port (our setup console does), so the
page offers to set Wi-Fi right after flashing. Serve ``manifest.json`` next to the
image::

    python -m drsctl.board.webtools build-ESP32_GENERIC/firmware.bin site/
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from drsctl.board.flash import CHIP_OFFSETS, FlashError, image_chip

# esptool's chip name -> ESP Web Tools' chipFamily
CHIP_FAMILIES = {"esp32": "ESP32", "esp32s3": "ESP32-S3", "esp32c3": "ESP32-C3"}


def _agent_version() -> str:
    from drsctl.firmware import firmware_dir

    text = (firmware_dir() / "drsagent" / "__init__.py").read_text()
    return text.split('VERSION = "', 1)[1].split('"', 1)[0]


def web_manifest(images: list[Path]) -> dict:
    """The manifest for one image per chip (the chip read from each image's header)."""
    builds = []
    for image in images:
        chip = image_chip(image.read_bytes())
        if chip not in CHIP_FAMILIES:
            raise FlashError(f"{image.name} is built for {chip}, not a supported chip")
        builds.append(
            {
                "chipFamily": CHIP_FAMILIES[chip],
                "improv": True,
                "parts": [{"path": image.name, "offset": CHIP_OFFSETS[chip]}],
            }
        )
    return {
        "name": "drsagent",
        "version": _agent_version(),
        "new_install_prompt_erase": True,
        "builds": builds,
    }


def write_site(images: list[Path], out_dir: Path) -> Path:
    """Copy the images into out_dir and write manifest.json beside them."""
    manifest = web_manifest(images)
    out_dir.mkdir(parents=True, exist_ok=True)
    for image in images:
        shutil.copyfile(image, out_dir / image.name)
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print("usage: python -m drsctl.board.webtools IMAGE.bin [IMAGE.bin ...] OUT_DIR")
        sys.exit(2)
    try:
        print(write_site([Path(a) for a in sys.argv[1:-1]], Path(sys.argv[-1])))
    except (FlashError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
