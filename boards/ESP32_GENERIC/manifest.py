# Frozen build for ESP32_GENERIC: MicroPython's own board manifest plus the agent.
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=$REPO/boards/ESP32_GENERIC/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
include("../agent_manifest.py")
