# NTP time sync for boards: sets the RTC so TLS and order timestamps are valid.
import time


def sync():
    """Return True once ntptime.settime() succeeded, False after three failures."""
    import ntptime  # board module: only imported on a board

    for i in range(3):
        try:
            ntptime.settime()
            return True
        except Exception:  # OSError/timeout: DNS or UDP lost; try again 2 s later
            if i < 2:
                time.sleep(2)
    return False
