# Device entry (runs from source on the VFS, so it stays tiny): the loop itself is
# drsagent/device.py, frozen or precompiled with the rest of the agent.
from drsagent import device

device.main()
