# NTP time sync for boards: sets the RTC so TLS and order timestamps are valid.
import time


def sync(retries=3, host=None, pause_s=2):
    """Return True once ntptime.settime() succeeded, False after `retries` failures."""
    import ntptime  # board module: only imported on a board

    if host:
        ntptime.host = host
    for i in range(retries):
        try:
            ntptime.settime()
            return True
        except Exception:  # OSError/timeout: DNS or UDP lost; try again
            if i + 1 < retries:
                time.sleep(pause_s)
    return False
