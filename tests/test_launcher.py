"""The local launcher (`make run`): settings, port checks, and the real system."""

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from aggregator import launcher
from aggregator.launch_settings import read_env_file
from aggregator.supervisor import Running, log_tail, stop_all

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180.0
#: Fail a README example on an HTTP error, not only on a connection error.
CURL_PRELUDE = (
    "set -euo pipefail\n"
    'curl() { command curl --silent --show-error --fail-with-body "$@"; }\n'
)
STOP_TIMEOUT = 60.0


def free_ports(count: int) -> list:
    """Return ``count`` distinct loopback ports that were free a moment ago."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def port_flags(ports: dict) -> list:
    """Return the launcher flags that set each service's port."""
    flags = []
    for name, port in ports.items():
        flags += [launcher.SERVICES[name].port_flag, str(port)]
    return flags


def test_gunicorn_command_serves_each_app_on_the_given_address():
    command = launcher.gunicorn_command("balance_sheet", "127.0.0.1", 6002, "py")
    assert command == [
        "py",
        "-m",
        "gunicorn",
        "--config",
        "data_sources/gunicorn.conf.py",
        "--bind",
        "127.0.0.1:6002",
        "data_sources.service:create_app('balance_sheet')",
    ]
    assert launcher.gunicorn_command("aggregator", "0.0.0.0", 8000)[-2:] == [
        "0.0.0.0:8000",
        "aggregator.app:create_app()",
    ]


def test_ipv6_loopback_is_bracketed_for_gunicorn_and_urls():
    assert launcher.address("::1", 5001) == "[::1]:5001"
    assert launcher.gunicorn_command("pnl", "::1", 5001)[-2] == "[::1]:5001"
    assert launcher.address("127.0.0.1", 5001) == "127.0.0.1:5001"


def test_services_cover_every_statement_and_the_aggregator():
    assert list(launcher.SERVICES) == [
        "pnl",
        "balance_sheet",
        "cash_flow",
        "aggregator",
    ]
    ports = [spec.default_port for spec in launcher.SERVICES.values()]
    assert ports == [5001, 5002, 5003, 8000]


def test_resolve_config_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = launcher.resolve_config([], env={})
    assert config.host == "127.0.0.1"
    assert config.ports == {
        "pnl": 5001,
        "balance_sheet": 5002,
        "cash_flow": 5003,
        "aggregator": 8000,
    }
    assert config.data_dir == tmp_path / "data"
    assert config.log_dir == tmp_path / "data" / "logs"
    assert config.services == ("pnl", "balance_sheet", "cash_flow", "aggregator")


def test_resolve_config_flags_win_over_env(tmp_path):
    env = {
        "FINSYNC_PNL_PORT": "6001",
        "FINSYNC_AGGREGATOR_PORT": "9000",
        "FINSYNC_DATA_DIR": str(tmp_path / "env"),
        "FINSYNC_HOST": "::1",
    }
    config = launcher.resolve_config(
        ["--aggregator-port", "9100", "--data-dir", str(tmp_path / "flag")], env=env
    )
    assert config.ports["pnl"] == 6001
    assert config.ports["aggregator"] == 9100
    assert config.data_dir == tmp_path / "flag"
    assert config.host == "::1"


@pytest.mark.parametrize(
    "argv, env, message",
    [
        ([], {"FINSYNC_CASH_FLOW_PORT": "http"}, "FINSYNC_CASH_FLOW_PORT must be a"),
        (["--pnl-port", "70000"], {}, "--pnl-port must be between 1 and 65535"),
        (["--host", "0.0.0.0"], {}, "must be a loopback address"),
        ([], {"FINSYNC_HOST": "example.com"}, "must be a loopback address"),
        ([], {"FINSYNC_HEALTH_TIMEOUT": "soon"}, "FINSYNC_HEALTH_TIMEOUT must be a"),
        (["--health-timeout", "0"], {}, "must be a positive number of seconds"),
    ],
)
def test_resolve_config_rejects_bad_values_plainly(argv, env, message):
    with pytest.raises(ValueError, match=message):
        launcher.resolve_config(argv, env=env)


def test_port_problems_name_the_port_the_service_and_the_fix(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = launcher.resolve_config(
            ["--cash-flow-port", str(port), "--data-dir", str(tmp_path)], env={}
        )
        problems = launcher.port_problems(replace(config, services=("cash_flow",)))
    assert len(problems) == 1
    assert f"port {port} (cash_flow) on 127.0.0.1 is already in use" in problems[0]
    assert "FINSYNC_CASH_FLOW_PORT" in problems[0]
    assert "--cash-flow-port" in problems[0]


def test_port_problems_when_two_services_share_a_port(tmp_path):
    port = free_ports(1)[0]
    config = launcher.resolve_config(
        ["--pnl-port", str(port), "--aggregator-port", str(port)], env={}
    )
    problems = [p for p in launcher.port_problems(config) if str(port) in p]
    assert problems == [
        f"port {port} is configured for both pnl and aggregator; set "
        f"FINSYNC_AGGREGATOR_PORT=<free port> or pass --aggregator-port <free port>"
    ]


def test_child_env_points_the_aggregator_at_the_configured_sources(tmp_path):
    config = launcher.resolve_config(
        ["--balance-sheet-port", "6002", "--data-dir", str(tmp_path)], env={}
    )
    env = launcher.child_env(config, "aggregator", env={"FINSYNC_DB_PATH": "x.db"})
    assert env["FINSYNC_PNL_URL"] == "http://127.0.0.1:5001"
    assert env["FINSYNC_BALANCE_SHEET_URL"] == "http://127.0.0.1:6002"
    assert env["FINSYNC_CASH_FLOW_URL"] == "http://127.0.0.1:5003"
    assert "FINSYNC_DB_PATH" not in env
    pnl_env = launcher.child_env(config, "pnl", env={})
    assert pnl_env["FINSYNC_STATEMENT"] == "pnl"
    assert pnl_env["FINSYNC_DATA_DIR"] == str(tmp_path)


def test_env_file_lines_are_read_as_docker_compose_reads_them(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\n\nFINSYNC_PNL_PORT=6001\nexport FINSYNC_HOST=::1\n"
        "FINSYNC_RATE_LIMIT='10 per minute'\n# FINSYNC_DATA_DIR=elsewhere\n"
    )
    assert read_env_file(env_file) == {
        "FINSYNC_PNL_PORT": "6001",
        "FINSYNC_HOST": "::1",
        "FINSYNC_RATE_LIMIT": "10 per minute",
    }
    assert read_env_file(tmp_path / "missing") == {}


def test_missing_databases_lists_statements_without_a_file(tmp_path):
    (tmp_path / "pnl.db").write_bytes(b"")
    assert launcher.missing_databases(tmp_path) == ["balance_sheet", "cash_flow"]


def test_log_tail_returns_the_last_lines(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(50)))
    assert log_tail(log, 3) == "line 47\nline 48\nline 49"
    assert log_tail(tmp_path / "missing.log") == "(no log)"


@pytest.mark.slow
def test_stop_all_kills_a_child_that_ignores_sigterm(tmp_path):
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            " print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert stubborn.stdout.readline() == b"ready\n"
    stop_all([Running("stubborn", stubborn, "", tmp_path / "none.log")], timeout=0.5)
    assert stubborn.returncode == -signal.SIGKILL
    stubborn.stdout.close()


class LauncherProcess:
    """The real launcher in a subprocess, with its log lines collected in a queue."""

    def __init__(self, argv: list, env: dict):
        self.lines = []
        self._queue = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aggregator.launcher", *argv],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for_line(self, text: str, timeout: float) -> str:
        """Return the first log line containing ``text``; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if text in line:
                return line
        pytest.fail(f"no log line with {text!r}; output:\n{''.join(self.lines)}")

    def output(self) -> str:
        """Return everything the launcher logged so far (after it exited)."""
        while True:
            try:
                line = self._queue.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return "".join(self.lines)

    def stop(self) -> None:
        """Kill the launcher's whole tree if a test left it running."""
        if self.process.poll() is None:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
            self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT)
        self.process.stdout.close()


def confined_env(root: Path) -> dict:
    """Environment for a launcher run confined to ``root``, one worker per service."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINSYNC_")}
    env["FINSYNC_DATA_DIR"] = str(root / "data")
    env["FINSYNC_OUTPUT_DIR"] = str(root / "output")
    env["FINSYNC_WORKERS"] = env["FINSYNC_AGG_WORKERS"] = "1"
    return env


@pytest.fixture
def launcher_env(tmp_path):
    """Environment for a launcher run confined to ``tmp_path``."""
    return confined_env(tmp_path)


def get_json(url: str) -> dict:
    """Return the JSON body of a GET to ``url``."""
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def descendants_gone(processes: list) -> bool:
    """Return True when none of ``processes`` is still running (zombies count)."""
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


class System:
    """The launched system: the launcher process, its ports and its folder."""

    def __init__(self, root: Path):
        self.root = root
        self.ports = dict(zip(launcher.SERVICES, free_ports(len(launcher.SERVICES))))
        argv = [*port_flags(self.ports), "--health-timeout", str(START_TIMEOUT)]
        self.run = LauncherProcess(argv, confined_env(root))
        self.ready_line = self.run.wait_for_line("dashboard at http://", START_TIMEOUT)

    def url(self, name: str) -> str:
        """Return the base URL of service ``name``."""
        return f"http://127.0.0.1:{self.ports[name]}"


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """The real launcher running the whole system on free ports (stopped at the end)."""
    started = System(tmp_path_factory.mktemp("system"))
    yield started
    started.run.stop()


@pytest.mark.slow
def test_launcher_serves_all_four_and_logs_the_dashboard_url(system):
    assert f"{system.url('aggregator')}/" in system.ready_line
    for name in launcher.SERVICES:
        assert get_json(f"{system.url(name)}/health")["status"] == "ok"
    sources = get_json(f"{system.url('aggregator')}/api/sources")["sources"]
    statuses = {source["name"]: source["status"] for source in sources}
    assert statuses == {"pnl": "up", "balance_sheet": "up", "cash_flow": "up"}
    assert launcher.missing_databases(system.root / "data") == []
    assert (system.root / "data" / "logs" / "aggregator.log").is_file()


def readme_curl_blocks() -> list:
    """Return the README's bash blocks that call curl."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return [b for b in re.findall(r"```bash\n(.*?)```", text, re.S) if "curl " in b]


@pytest.mark.slow
def test_every_readme_curl_example_works_against_the_launched_system(system, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    default_ports = {str(spec.default_port): n for n, spec in launcher.SERVICES.items()}
    blocks = readme_curl_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        script = re.sub(
            r"localhost:(\d+)",
            lambda m: system.url(default_ports[m.group(1)]).removeprefix("http://"),
            block,
        )
        done = subprocess.run(
            ["bash", "-c", CURL_PRELUDE + script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{block}\n---\n{done.stdout}\n{done.stderr}"
    assert (tmp_path / "result.csv").read_text().startswith("company_id,")
    assert (tmp_path / "page.arrows").stat().st_size > 0


def post_json(url: str, body: dict) -> dict:
    """Return the JSON answer of a POST of ``body`` to ``url``."""
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def service_process(system: "System", name: str) -> psutil.Process:
    """Return the gunicorn master the launcher started for ``name``."""
    bind = f"127.0.0.1:{system.ports[name]}"
    (master,) = [
        child
        for child in psutil.Process(system.run.process.pid).children()
        if bind in child.cmdline()
    ]
    return master


# Last test on the shared system: it kills a source, then stops everything.
@pytest.mark.slow
def test_a_dead_source_is_flagged_and_ctrl_c_still_stops_everything(system):
    children = psutil.Process(system.run.process.pid).children(recursive=True)
    assert len(children) >= len(launcher.SERVICES)
    os.killpg(service_process(system, "cash_flow").pid, signal.SIGKILL)
    system.run.wait_for_line("cash_flow exited unexpectedly", STOP_TIMEOUT)
    system.run.wait_for_line("the other services keep running", STOP_TIMEOUT)
    aggregator = system.url("aggregator")
    sources = get_json(f"{aggregator}/api/sources")["sources"]
    statuses = {source["name"]: source["status"] for source in sources}
    assert statuses == {"pnl": "up", "balance_sheet": "up", "cash_flow": "down"}
    result = post_json(f"{aggregator}/api/aggregate", {"fields": ["net_income"]})
    assert result["complete"] is False
    assert result["sources"]["cash_flow"]["status"] == "unavailable"
    system.run.process.send_signal(signal.SIGINT)
    assert system.run.process.wait(timeout=STOP_TIMEOUT) == 0
    assert "all services stopped" in system.run.output()
    assert descendants_gone(children)


@pytest.mark.slow
def test_launcher_refuses_to_start_when_a_port_is_taken(tmp_path, launcher_env):
    ports = dict(zip(launcher.SERVICES, free_ports(len(launcher.SERVICES))))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["balance_sheet"]))
        taken.listen()
        run = LauncherProcess(port_flags(ports), launcher_env)
        try:
            assert run.process.wait(timeout=STOP_TIMEOUT) == launcher.EXIT_USAGE
            output = run.output()
        finally:
            run.stop()
    port = ports["balance_sheet"]
    assert f"port {port} (balance_sheet) on 127.0.0.1 is already in use" in output
    assert "FINSYNC_BALANCE_SHEET_PORT" in output
    assert "nothing was started" in output
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_launcher_refuses_a_bad_config_before_starting_anything(tmp_path, launcher_env):
    bad_config = tmp_path / "config.json"
    bad_config.write_text('{"company_ids": ["ACME0001"], "schema_mapping": []}')
    launcher_env["FINSYNC_CONFIG"] = str(bad_config)
    ports = dict(zip(launcher.SERVICES, free_ports(len(launcher.SERVICES))))
    run = LauncherProcess(port_flags(ports), launcher_env)
    try:
        assert run.process.wait(timeout=STOP_TIMEOUT) == launcher.EXIT_USAGE
        output = run.output()
    finally:
        run.stop()
    assert "invalid aggregator configuration" in output
    assert "schema_mapping" in output
    assert "nothing was started" in output
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_launcher_shows_the_log_of_a_service_that_fails_and_stops_the_rest(
    tmp_path, launcher_env
):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "pnl.db").write_bytes(b"this is not a database")
    ports = dict(zip(launcher.SERVICES, free_ports(len(launcher.SERVICES))))
    argv = [*port_flags(ports), "--health-timeout", str(START_TIMEOUT)]
    run = LauncherProcess(argv, launcher_env)
    try:
        assert run.process.wait(timeout=START_TIMEOUT) == launcher.EXIT_FAILED
        output = run.output()
    finally:
        run.stop()
    assert "start-up failed: pnl exited during start-up" in output
    assert f"last lines of {data_dir / 'logs' / 'pnl.log'}" in output
    assert "all services stopped" in output
    assert "aggregator" not in output.split("start-up failed")[0]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_services_die_with_a_killed_launcher(tmp_path, launcher_env):
    port = free_ports(1)[0]
    run = LauncherProcess(["--only", "pnl", "--pnl-port", str(port)], launcher_env)
    try:
        run.wait_for_line("press Ctrl-C to stop", START_TIMEOUT)
        children = psutil.Process(run.process.pid).children(recursive=True)
        assert children
        run.process.kill()  # no chance to clean up: the kernel must do it
        run.process.wait(timeout=STOP_TIMEOUT)
        gone, alive = psutil.wait_procs(children, timeout=STOP_TIMEOUT)
        assert descendants_gone(alive)
    finally:
        run.stop()
