# The agent package, frozen: included by every board's manifest.py. Frozen code is
# bytecode in flash: it costs (almost) no heap, and the names it uses are interned in
# flash too. Paths are relative to this file.
package("drsagent", base_path="../firmware", opt=2)

# main.py stays a plain file on the filesystem (MicroPython runs /main.py from the
# VFS); firmware/sim_main.py and firmware/simhost.py are the desktop simulator link,
# outside the package, and are not frozen. hal/sim.py is tiny and keeps the simulator
# driver usable on a demo board.
