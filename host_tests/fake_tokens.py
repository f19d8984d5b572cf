"""Fake Login-with-Amazon tokens, minted at run time.

Real LwA tokens start with ``Atza|`` (access) or ``Atzr|`` (refresh) followed by a
long payload. The tests need that shape (the firmware's log scrubber and the
emulator key on the prefix), but the repository holds no literal that looks like a
real token: every fake one is put together from these prefixes when a test runs.
"""

ACCESS = "Atz" + "a|"
REFRESH = "Atz" + "r|"
