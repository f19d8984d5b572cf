"""Deploy the agent to a device running stock MicroPython, or build the same file tree.

The bundle is what goes onto the flash: the agent compiled to ``.mpy`` with the
matching ``mpy-cross`` (``drsagent/**.mpy``), ``main.py`` as source (MicroPython runs
the entry script from source; it is two lines), the CA bundle when given, and
``config.json``/``secrets.json`` only when asked for. Deploying copies with mpremote's
serial transport only the files whose SHA-256 differs, writes ``main.py`` last (a
reset mid-deploy then boots the old agent, never half a new one), checks every hash
again and resets the board.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drsctl.board.serial_link import SerialLink
from drsctl.firmware import compiled_firmware, firmware_dir

ENTRY = "main.py"
CA_FILE = "amazon_roots.pem"
PROVISIONED_FILES = ("config.json", "secrets.json")
# What a bundle's top folder holds: an earlier bundle may be replaced, nothing else.
_BUNDLE_ENTRIES = frozenset(("drsagent", ENTRY, CA_FILE, *PROVISIONED_FILES))
_RESET = "import machine; machine.reset()"  # what ends a deploy: the board boots main.py
_CHUNK = 1024  # bytes per raw-REPL write: ESP32 raw-paste copes, the pty is instant


class DeployError(RuntimeError):
    """The deploy stopped; the message says why."""


def build_bundle(
    out: Path,
    ca_pem: bytes | None = None,
    config: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> list[str]:
    """Write the device's file tree to ``out``; return its files, ``main.py`` last.

    ``ca_pem`` is the CA bundle to ship as ``amazon_roots.pem`` (the Amazon roots, taken
    from the pinned certifi bundle by the board support); ``config``/``secrets`` are
    written only when given. ``out`` must be new, empty or an earlier bundle: it is
    emptied first, so anything else in it is refused (:class:`DeployError`), never deleted.
    """
    if out.exists() and not out.is_dir():
        raise DeployError(f"{out} is a file, not a folder")
    strangers = _strangers(out) if out.exists() else []
    if strangers:
        raise DeployError(
            f"{out} holds {strangers[0]!r}, which is not part of a bundle: give a new or "
            "empty folder (an earlier bundle there is replaced)"
        )
    compiled = compiled_firmware()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files: list[str] = []
    for module in sorted(compiled.rglob("*.mpy")):
        rel = module.relative_to(compiled)
        if rel.parts[0] != "drsagent":  # main/sim_main/simhost: entries, not modules
            continue
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, out / rel)
        files.append(rel.as_posix())
    if ca_pem is not None:
        (out / CA_FILE).write_bytes(ca_pem)
        files.append(CA_FILE)
    for name, content in (("config.json", config), ("secrets.json", secrets)):
        if content is not None:
            (out / name).write_text(json.dumps(content, indent=1) + "\n")
            files.append(name)
    if (out / "secrets.json").exists():
        (out / "secrets.json").chmod(0o600)
    shutil.copyfile(firmware_dir() / ENTRY, out / ENTRY)
    files.append(ENTRY)
    return files


def _strangers(out: Path) -> list[str]:
    """What in the folder ``out`` no bundle writes (relative paths, sorted)."""
    strangers = []
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if rel.parts[0] == "drsagent" and len(rel.parts) > 1:
            ours = path.suffix == ".mpy" if path.is_file() else path.is_dir()
        else:
            ours = rel.parts[0] in _BUNDLE_ENTRIES
        if not ours:
            strangers.append(rel.as_posix())
    return strangers


def _sha256(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def deploy(
    port: str,
    bundle: Path,
    files: list[str],
    overwrite_provisioned: bool = False,
    say: Callable[[str], None] = print,
    timeout: float = 10.0,
) -> list[str]:
    """Copy the changed files of ``bundle`` to the device on ``port``; return them.

    ``timeout``: seconds to wait for the board to answer (a silent port fails after it).
    """
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    try:
        transport = SerialTransport(port, baudrate=115200, timeout=timeout)
    except TransportError as exc:
        SerialLink(port).close()  # says why: a missing, busy or no serial port
        raise DeployError(f"{port}: {exc}") from None
    try:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # mpremote prints what it read
                transport.enter_raw_repl(soft_reset=False, timeout_overall=timeout)
        except TransportError:
            raise DeployError(
                f"{port}: no MicroPython REPL answered within {timeout:g} s "
                "(is it the board, running MicroPython? `drsctl flash` installs it)"
            ) from None
        provisioned = [n for n in PROVISIONED_FILES if n in files and transport.fs_exists(n)]
        if provisioned and not overwrite_provisioned:
            transport.exec_raw_no_follow(_RESET)  # nothing changed: let the agent run on
            raise DeployError(
                f"the device has {' and '.join(provisioned)} already (it is provisioned); "
                "deploy without --config/--secrets, or pass --overwrite-provisioned"
            )
        changed = _copy_changed(transport, bundle, files, say)
        for name in files:
            if transport.fs_hashfile(name, "sha256") != _sha256(bundle / name):
                raise DeployError(f"verify: {name} on the device differs from the bundle")
        say(f"verified {len(files)} files; resetting the board")
        transport.exec_raw_no_follow(_RESET)
    # OSError: the port went away (pyserial's SerialException is one); struct.error: a
    # raw-paste header cut short by the timeout.
    except (TransportError, OSError, struct.error) as exc:
        raise DeployError(f"{port}: the device stopped answering: {exc}") from None
    finally:
        try:
            transport.close()
        except OSError:  # the board reset under us and mpremote's RTS/DTR reset failed
            transport.serial.close()  # still release the port (its lock would outlive us)
    return changed


def _copy_changed(
    transport: Any, bundle: Path, files: list[str], say: Callable[[str], None]
) -> list[str]:
    changed: list[str] = []
    for name in files:  # main.py is last in `files`
        if transport.fs_exists(name) and transport.fs_hashfile(name, "sha256") == _sha256(
            bundle / name
        ):
            continue
        parent = ""
        for part in name.split("/")[:-1]:
            parent = f"{parent}/{part}" if parent else part
            if not transport.fs_exists(parent):
                transport.fs_mkdir(parent)
        transport.fs_writefile(name, (bundle / name).read_bytes(), chunk_size=_CHUNK)
        changed.append(name)
        say(f"copied {name}")
    return changed
