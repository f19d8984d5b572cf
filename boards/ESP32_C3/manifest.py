# Frozen build for ESP32_C3: MicroPython's own board manifest plus the agent.
#   make -C ports/esp32 BOARD=ESP32_GENERIC_C3 FROZEN_MANIFEST=$REPO/boards/ESP32_C3/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
include("../agent_manifest.py")
