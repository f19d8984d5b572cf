"""drsctl deploy: the bundle is the compiled sources byte for byte; the board gets it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from drsctl.board.deploy import DeployError, build_bundle, deploy
from drsctl.board.provision import SetupConsole
from drsctl.board.serial_link import SerialLink
from drsctl.board.virtual_board import VirtualBoard
from drsctl.firmware import firmware_dir, mpy_cross_binary, source_name

from host_tests.board.boardhelpers import wait_until_booted


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_bundle_is_the_compiled_sources_byte_for_byte(tmp_path: Path) -> None:
    files = build_bundle(tmp_path / "bundle")
    assert files[-1] == "main.py"  # written last
    tree = _tree(tmp_path / "bundle")
    assert sorted(tree) == sorted(files)
    sources = sorted((firmware_dir() / "drsagent").rglob("*.py"))
    assert len(sources) == len(files) - 1
    for source in sources:
        rel = source.relative_to(firmware_dir())
        compiled = tmp_path / "own.mpy"
        subprocess.run(
            [mpy_cross_binary(), "-O2", "-s", source_name(rel), "-o", str(compiled), str(rel)],
            check=True,
            cwd=firmware_dir(),
        )
        assert tree[rel.with_suffix(".mpy").as_posix()] == compiled.read_bytes(), rel
    assert tree["main.py"] == (firmware_dir() / "main.py").read_bytes()
    assert not {"sim_main.py", "simhost.py", "sim_main.mpy", "simhost.mpy"} & set(tree)


def test_bundle_with_ca_and_config_only_when_asked(tmp_path: Path) -> None:
    ca = tmp_path / "roots.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    files = build_bundle(tmp_path / "b", ca_pem=ca.read_bytes(), config={"device": {"serial": "S"}})
    assert "amazon_roots.pem" in files and "config.json" in files
    assert "secrets.json" not in files
    assert (tmp_path / "b" / "amazon_roots.pem").read_bytes() == ca.read_bytes()


def test_deploy_to_the_virtual_board(tmp_path: Path, bundle: Path) -> None:
    flash = tmp_path / "flash"
    flash.mkdir()
    files = sorted(_tree(bundle), key=lambda name: name == "main.py")
    with VirtualBoard(flash) as board:
        said: list[str] = []
        assert deploy(board.port, bundle, files, say=said.append) == files
        assert _tree(bundle).items() <= _tree(flash).items()  # byte for byte on the flash
        assert said[-2:] == ["copied main.py", f"verified {len(files)} files; resetting the board"]
        wait_until_booted(board, 2)  # reset: main.py runs the agent + console
        with SerialLink(board.port) as link:
            assert SetupConsole(link, timeout=15).request("status")["mode"] == "setup"
        changed_module = "drsagent/hal/clock.mpy"
        (flash / changed_module).write_bytes(b"stale")
        assert deploy(board.port, bundle, files, say=said.append) == [changed_module]


def test_deploy_never_overwrites_a_provisioned_device_silently(
    board: VirtualBoard, tmp_path: Path
) -> None:
    (board.flash / "config.json").write_text('{"provisioned": true}')
    out = tmp_path / "with-config"
    files = build_bundle(out, config={"device": {"serial": "NEW"}})
    with pytest.raises(DeployError, match="has config.json already"):
        deploy(board.port, out, files, say=lambda line: None)
    assert json.loads((board.flash / "config.json").read_text()) == {"provisioned": True}
    wait_until_booted(board, 2)  # the refusal reset the board
    deploy(board.port, out, files, overwrite_provisioned=True, say=lambda line: None)
    assert json.loads((board.flash / "config.json").read_text())["device"]["serial"] == "NEW"
