# Simulator entry (desktop only): the link itself lives in drsagent/simhost.py.
from drsagent import simhost

simhost.main()
