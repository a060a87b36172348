"""docker-compose.yml and the Dockerfiles, checked without a Docker engine.

The file is parsed as compose would parse it (YAML, merge keys, ``${VAR:-default}``)
and held to what the containers need: the launcher's own gunicorn commands, ports on
127.0.0.1 only, health checks that really answer, named volumes, and Dockerfiles
that copy only paths that exist, built on python:3.11-slim and nothing else.
"""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from aggregator import launcher
from aggregator.app import create_app
from aggregator.config import load_settings
from data_sources.statements import STATEMENTS

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
BASE_IMAGE = "python:3.11-slim"
SHARED_IMAGE_ARG = "FINSYNC_IMAGE"
CONTAINER_HOST = "0.0.0.0"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")
#: Service keys that compose file format 2.4 (docker-compose 1.29) and the Compose
#: Specification (docker compose v2) both accept; anything else is flagged for review.
PORTABLE_SERVICE_KEYS = {
    "build",
    "command",
    "depends_on",
    "entrypoint",
    "environment",
    "healthcheck",
    "image",
    "init",
    "ports",
    "restart",
    "stop_grace_period",
    "user",
    "volumes",
    "working_dir",
}


def interpolate(value, env: dict):
    """Return ``value`` with ``${VAR:-default}`` substituted as compose does."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: env.get(m.group(1)) or m.group(2) or "", value)
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    return value


def load_compose(env=None) -> dict:
    """Return docker-compose.yml parsed and interpolated with ``env``."""
    return interpolate(yaml.safe_load(COMPOSE_FILE.read_text()), env or {})


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml with every variable at its default."""
    return load_compose()


def service_folder(name: str) -> str:
    """Return the folder holding the thin Dockerfile of service ``name``."""
    return "aggregator" if name == "aggregator" else f"data_sources/{name}"


def dockerfile_instructions(path: Path) -> list:
    """Return (INSTRUCTION, arguments) pairs, continuation lines joined."""
    instructions, pending = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def instruction_values(path: Path, keyword: str) -> list:
    """Return the arguments of every ``keyword`` instruction in ``path``."""
    return [rest for key, rest in dockerfile_instructions(path) if key == keyword]


def all_dockerfiles() -> list:
    """Return the root Dockerfile and every thin per-service Dockerfile."""
    thin = [
        REPO_ROOT / service_folder(name) / "Dockerfile" for name in launcher.SERVICES
    ]
    return [REPO_ROOT / "Dockerfile", *thin]


def healthcheck_url(service: dict) -> str:
    """Return the URL the service's health check requests."""
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], "slim images have no curl: use python"
    urls = re.findall(r"https?://[^'\"]+", test[3])
    assert len(urls) == 1, test
    return urls[0]


def test_compose_format_is_one_both_compose_generations_accept(compose):
    assert compose["version"] == "2.4"
    top_level = {key for key in compose if not key.startswith("x-")}
    assert top_level <= {"version", "services", "volumes", "networks"}
    for name, service in compose["services"].items():
        unknown = set(service) - PORTABLE_SERVICE_KEYS
        assert not unknown, f"{name}: {sorted(unknown)} not portable to 1.29"


def test_compose_runs_every_statement_and_the_aggregator(compose):
    assert list(compose["services"]) == list(launcher.SERVICES)


def test_every_service_builds_the_one_shared_image_and_pulls_nothing(compose):
    for name, service in compose["services"].items():
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        # With `image:` beside `build:` compose v2 would try to pull that name first.
        assert "image" not in service, name


def test_containers_run_the_launchers_gunicorn_commands(compose):
    for name, service in compose["services"].items():
        port = launcher.SERVICES[name].default_port
        assert service["command"] == launcher.gunicorn_command(
            name, CONTAINER_HOST, port
        ), name


def test_ports_are_published_on_loopback_only(compose):
    for name, service in compose["services"].items():
        port = launcher.SERVICES[name].default_port
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"], name


def test_host_ports_follow_the_launchers_port_variables():
    env = {
        spec.port_env: str(7000 + i)
        for i, spec in enumerate(launcher.SERVICES.values())
    }
    services = load_compose(env)["services"]
    for i, (name, spec) in enumerate(launcher.SERVICES.items()):
        port = spec.default_port
        assert services[name]["ports"] == [f"127.0.0.1:{7000 + i}:{port}"], name


def test_healthchecks_request_health_on_the_services_own_port(compose):
    for name, service in compose["services"].items():
        url = urlsplit(healthcheck_url(service))
        assert (url.hostname, url.port, url.path) == (
            "127.0.0.1",
            launcher.SERVICES[name].default_port,
            "/health",
        ), name
        assert set(service["healthcheck"]) >= {"interval", "timeout", "retries"}


@pytest.fixture(scope="module")
def live_aggregator(live_sources, start_server, tmp_path_factory):
    """Base URL of the real aggregator app, on :0, over the live sources."""
    env = {f"FINSYNC_{slug.upper()}_URL": url for slug, url in live_sources.items()}
    env["FINSYNC_OUTPUT_DIR"] = str(tmp_path_factory.mktemp("output"))
    server = start_server(create_app(load_settings(env=env)))
    yield server.url
    server.stop()


def run_healthcheck(service: dict, base_url: str) -> int:
    """Run the service's own health-check command against ``base_url``; its code."""
    code = service["healthcheck"]["test"][3]
    url = healthcheck_url(service)
    probe = code.replace(url, base_url + urlsplit(url).path)
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, timeout=60
    )
    return done.returncode


def test_statement_healthchecks_pass_against_the_real_services(compose, live_sources):
    for slug, base_url in live_sources.items():
        assert run_healthcheck(compose["services"][slug], base_url) == 0, slug


def test_aggregator_healthcheck_passes_against_the_real_aggregator(
    compose, live_aggregator
):
    assert run_healthcheck(compose["services"]["aggregator"], live_aggregator) == 0


def test_healthcheck_fails_when_nothing_answers(compose, closed_url):
    assert run_healthcheck(compose["services"]["pnl"], closed_url) != 0


def test_aggregator_waits_for_healthy_sources(compose):
    services = compose["services"]
    assert services["aggregator"]["depends_on"] == {
        slug: {"condition": "service_healthy"} for slug in STATEMENTS
    }
    for slug in STATEMENTS:
        assert "depends_on" not in services[slug]
        assert "healthcheck" in services[slug]


def test_aggregator_reaches_each_source_by_its_service_name(compose):
    env = compose["services"]["aggregator"]["environment"]
    for slug, spec in STATEMENTS.items():
        assert (
            env[f"FINSYNC_{slug.upper()}_URL"] == f"http://{slug}:{spec.default_port}"
        )


def test_databases_and_outputs_live_in_named_volumes(compose):
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        env = service["environment"]
        mounts = dict(volume.split(":", 1) for volume in service["volumes"])
        assert set(mounts) <= declared, f"{name}: bind mounts or undeclared volumes"
        wanted = env["FINSYNC_DATA_DIR"] if name in STATEMENTS else None
        wanted = wanted or env["FINSYNC_OUTPUT_DIR"]
        assert wanted in mounts.values(), name
    statement_volumes = [
        compose["services"][slug]["volumes"][0].split(":")[0] for slug in STATEMENTS
    ]
    assert len(set(statement_volumes)) == len(STATEMENTS), "one database volume each"


def test_statement_containers_know_their_statement(compose):
    for slug in STATEMENTS:
        assert compose["services"][slug]["environment"]["FINSYNC_STATEMENT"] == slug


def test_compose_passes_only_documented_settings(compose):
    documented = set(
        re.findall(r"FINSYNC_\w+", (REPO_ROOT / ".env.example").read_text())
    )
    for name, service in compose["services"].items():
        unknown = set(service["environment"]) - documented
        assert not unknown, f"{name}: {sorted(unknown)} missing from .env.example"


def compose_clis() -> list:
    """Return the installed compose commands: docker-compose 1.x and/or compose v2."""
    found = []
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=60
        )
        if probe.returncode == 0:
            found.append(["docker", "compose"])
    return found


def test_installed_compose_clis_accept_the_file():
    clis = compose_clis()
    if not clis:
        pytest.skip("neither docker-compose nor docker compose is installed")
    for cli in clis:
        done = subprocess.run(
            [*cli, "-f", str(COMPOSE_FILE), "config", "-q"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{' '.join(cli)}: {done.stderr}"


def test_dockerfiles_use_only_the_official_slim_base_and_no_syntax_line():
    for path in all_dockerfiles():
        text = path.read_text()
        assert not re.search(r"^#\s*syntax\s*=", text, re.IGNORECASE | re.MULTILINE)
        assert "ADD" not in dict(dockerfile_instructions(path)), path
    assert instruction_values(REPO_ROOT / "Dockerfile", "FROM") == [BASE_IMAGE]


def dockerignore_patterns() -> list:
    """Return the patterns of .dockerignore (comments and blanks dropped)."""
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and line[0] != "#"]


def ignored(path: str, patterns: list) -> bool:
    """Return True when ``path`` (relative) is excluded by a .dockerignore pattern."""
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(prefix, bare):
                return True
    return False


def test_every_copied_path_exists_and_is_in_the_build_context():
    patterns = dockerignore_patterns()
    copies = instruction_values(REPO_ROOT / "Dockerfile", "COPY")
    assert copies, "the shared image copies the app"
    for arguments in copies:
        *sources, _destination = arguments.split()
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"COPY {source}: no such path"
            assert not ignored(source, patterns), f"COPY {source}: in .dockerignore"


def test_the_image_holds_every_package_the_app_imports():
    copied = set()
    for arguments in instruction_values(REPO_ROOT / "Dockerfile", "COPY"):
        copied.update(Path(source).parts[0] for source in arguments.split()[:-1])
    assert {"data_sources", "aggregator", "frontend", "requirements.txt"} <= copied
    assert "config.json" in copied


def exec_form(arguments: str) -> list:
    """Return the JSON (exec) form of a CMD/ENTRYPOINT, failing on shell form."""
    value = json.loads(arguments)
    assert isinstance(value, list), "use the exec form so signals reach gunicorn"
    return value


def test_shared_image_initialises_a_missing_database_then_execs_the_command():
    dockerfile = REPO_ROOT / "Dockerfile"
    (entrypoint,) = [exec_form(a) for a in instruction_values(dockerfile, "ENTRYPOINT")]
    assert entrypoint[:2] == ["/bin/sh", "-c"]
    init = " ".join(launcher.init_db_command("DIR")[:-1])
    assert init in entrypoint[2]
    assert entrypoint[2].rstrip().endswith('exec "$@"')
    (command,) = [exec_form(a) for a in instruction_values(dockerfile, "CMD")]
    assert command == launcher.gunicorn_command("aggregator", CONTAINER_HOST, 8000)


def test_thin_dockerfiles_bake_in_the_launchers_command_and_copy_nothing():
    for name, spec in launcher.SERVICES.items():
        path = REPO_ROOT / service_folder(name) / "Dockerfile"
        keywords = [key for key, _ in dockerfile_instructions(path)]
        assert "COPY" not in keywords and "ADD" not in keywords, path
        assert instruction_values(path, "ARG")[0].startswith(f"{SHARED_IMAGE_ARG}=")
        assert instruction_values(path, "FROM") == ["${" + SHARED_IMAGE_ARG + "}"]
        (command,) = [exec_form(a) for a in instruction_values(path, "CMD")]
        port = spec.default_port
        assert command == launcher.gunicorn_command(name, CONTAINER_HOST, port), path
        assert instruction_values(path, "EXPOSE") == [str(port)]
        (health,) = instruction_values(path, "HEALTHCHECK")
        assert f"http://127.0.0.1:{port}/health" in health
        if name in STATEMENTS:
            assert f"FINSYNC_STATEMENT={name}" in instruction_values(path, "ENV")


def run_entrypoint(env: dict, command: list) -> subprocess.CompletedProcess:
    """Run the shared image's ENTRYPOINT script here, with the venv's python first."""
    dockerfile = REPO_ROOT / "Dockerfile"
    (entrypoint,) = [exec_form(a) for a in instruction_values(dockerfile, "ENTRYPOINT")]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        [*entrypoint, *command],
        cwd=REPO_ROOT,
        env={"PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_entrypoint_creates_a_missing_database_once_then_runs_the_command(tmp_path):
    env = {"FINSYNC_STATEMENT": "cash_flow", "FINSYNC_DATA_DIR": str(tmp_path)}
    first = run_entrypoint(env, ["python", "-c", "print('served')"])
    assert first.returncode == 0, first.stderr
    assert first.stdout == "served\n"
    assert (tmp_path / "cash_flow.db").is_file()
    assert "loaded" in first.stderr
    again = run_entrypoint(env, ["python", "-c", "print('served again')"])
    assert (again.returncode, again.stdout, again.stderr) == (0, "served again\n", "")


@pytest.mark.slow
def test_entrypoint_leaves_the_aggregator_without_databases(tmp_path):
    env = {"FINSYNC_DATA_DIR": str(tmp_path)}
    done = run_entrypoint(env, ["python", "-c", "print('aggregating')"])
    assert (done.returncode, done.stdout) == (0, "aggregating\n")
    assert list(tmp_path.iterdir()) == []
