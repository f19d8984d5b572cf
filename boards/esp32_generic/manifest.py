# Frozen build for ESP32_GENERIC: the agent becomes bytecode in flash, so its code
# costs (almost) no heap. Paths are relative to this file.
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=$PWD/boards/esp32_generic/manifest.py
include("$(PORT_DIR)/boards/manifest.py")

# The whole agent package, drivers included (hal/sim.py is tiny and keeps the
# simulator driver usable on a demo board).
package("drsagent", base_path="../../firmware", opt=2)

# main.py stays a plain file on the filesystem (MicroPython runs /main.py from the
# VFS); firmware/sim_main.py and firmware/simhost.py are the desktop simulator
# link, outside the package, and are not frozen.
