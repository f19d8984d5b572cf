"""``ntptime`` for the virtual board: the host keeps the unix port's clock set."""

host = "pool.ntp.org"


def settime():
    """Nothing to do: time.time() on the unix port is the host's synchronised clock."""
