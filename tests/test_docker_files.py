"""docker/: no Docker engine runs here, so the files are checked by reading them, against
the settings ``config.py`` knows, and by the real ``nginx -t``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from repoversion.config import ENV_PREFIX, SETTING_NAMES, load_settings

DOCKER = Path(__file__).resolve().parents[1] / "docker"
LONG_RUNNING = ("postgres", "minio", "server", "worker", "nginx")
REPOVERSION_SERVICES = ("init", "server", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def mounts_of(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume, short syntax."""
    return [tuple(v.split(":")[:2]) for v in service.get("volumes", [])]  # type: ignore[misc]


def test_compose_has_the_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*LONG_RUNNING, "init", "create-bucket"):
        assert name in services, name
    assert services["worker"]["command"] == ["repoversion", "worker"]
    from repoversion.cli import cli

    for name in REPOVERSION_SERVICES:  # each names a command that exists
        assert services[name]["command"][1] in cli.all_commands, name
    # the worker service runs the jobs, so the servers embed none (docs/jobs.md)
    assert not load_settings(DOCKER, environ=env_of(services["server"])).embedded_worker
    assert services["server"]["command"][:2] == ["repoversion", "serve"]
    assert services["init"]["command"] == ["repoversion", "init"]
    assert services["postgres"]["image"].startswith("postgres:")
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"


def test_every_repoversion_variable_is_a_setting_and_valid(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    known = {ENV_PREFIX + name.upper() for name in SETTING_NAMES} | {ENV_PREFIX + "HOME"}
    services = compose["services"]
    for name in REPOVERSION_SERVICES:
        env = env_of(services[name])
        for var in env:
            if var.startswith(ENV_PREFIX):
                assert var in known, f"{name}: {var} is not a setting in config.py"
        # The values pass the same validation `repoversion` applies at start.
        settings = load_settings(tmp_path, environ=env)
        assert urlsplit(settings.database_url).hostname == "postgres"
        assert settings.storage_url.startswith("s3://")
        endpoint_host = urlsplit(settings.s3_endpoint_url or "").hostname
        assert endpoint_host in services, f"{name}: S3 endpoint {endpoint_host} is no service"
        assert env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")
        key = PurePosixPath(str(settings.signing_key))
        assert any(key.is_relative_to(target) for _, target in mounts_of(services[name])), (
            f"{name}: signing key {key} is on no mounted volume"
        )
    # Only init may write the shared key.
    for name in ("server", "worker"):
        assert all(v.endswith(":ro") for v in services[name]["volumes"] if "key" in v), name


def test_bucket_and_volumes_are_consistent(compose: dict[str, Any]) -> None:
    services = compose["services"]
    bucket = urlsplit(env_of(services["server"])["REPOVERSION_STORAGE_URL"]).hostname
    assert f"s3/{bucket}" in " ".join(services["create-bucket"]["entrypoint"])
    declared = set(compose.get("volumes", {}))
    for name, service in services.items():
        for source, _target in mounts_of(service):
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_several_server_nodes_one_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    server = services["server"]
    assert server.get("deploy", {}).get("replicas", 1) >= 2
    # replicas need what one container alone could name: no fixed name, no host port
    assert "container_name" not in server and "ports" not in server
    assert services["worker"].get("deploy", {}).get("replicas", 1) == 1
    assert "ports" not in services["worker"]


def test_ports_agree(compose: dict[str, Any], tmp_path: Path) -> None:
    """The server listens where nginx and its own healthcheck look; nginx listens on the
    port compose publishes, and that is the public URL every node writes into Releases."""
    services = compose["services"]
    server, nginx = services["server"], services["nginx"]
    port = server["command"][server["command"].index("--bind") + 1].rsplit(":", 1)[1]
    assert str(port) in [str(p) for p in server["expose"]]
    assert f"127.0.0.1:{port}/healthz" in " ".join(server["healthcheck"]["test"])
    conf = (DOCKER / "nginx.conf").read_text()
    (published,) = nginx["ports"]
    host_port, container_port = str(published).split(":")
    assert re.search(rf"^\s*listen {container_port};", conf, re.M)
    (health,) = [urlsplit(w) for w in nginx["healthcheck"]["test"] if w.startswith("http")]
    assert (health.port or 80) == int(container_port) and health.path == "/healthz"
    public = load_settings(tmp_path, environ=env_of(server)).public_url
    assert urlsplit(public).port == int(host_port)


def test_dockerfile(compose: dict[str, Any]) -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM debian:12", text, re.M)
    assert "install-system-deps.sh --runtime" in text
    assert "--system-site-packages" in text and "import apt_pkg" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^CMD \["repoversion", "serve"\]', text, re.M)
    key_dir = PurePosixPath(env_of(compose["services"]["server"])["REPOVERSION_SIGNING_KEY"]).parent
    assert f"-o repoversion -g repoversion {key_dir}" in text
    build = compose["services"]["server"]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKER / "Dockerfile"


def test_nginx_front_matches_compose(compose: dict[str, Any]) -> None:
    conf = (DOCKER / "nginx.conf").read_text()
    services = compose["services"]
    port = services["server"]["command"][services["server"]["command"].index("--bind") + 1]
    assert f"server server:{port.rsplit(':', 1)[1]};" in conf
    assert ("./nginx.conf", "/etc/nginx/nginx.conf") in mounts_of(services["nginx"])
    # The X-Accel-Redirect target documented for the x_accel_redirect setting.
    assert re.search(r"location /_blobs/ \{\s*internal;\s*alias [^;]+/;", conf)
    assert "REPOVERSION_X_ACCEL_REDIRECT=/_blobs" in conf


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    conf = (DOCKER / "nginx.conf").read_text()
    replacements = {
        "server server:8080;": "server 127.0.0.1:8080;",  # nginx -t resolves upstream names
        "/var/lib/repoversion/blobs/": f"{tmp_path}/blobs/",
        "/var/cache/nginx/repoversion": f"{tmp_path}/cache",
        "/tmp/nginx-repoversion.pid": f"{tmp_path}/nginx.pid",
    }
    for old, new in replacements.items():
        assert old in conf, old
        conf = conf.replace(old, new)
    (tmp_path / "nginx.conf").write_text(conf)
    proc = subprocess.run(
        ["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "syntax is ok" in proc.stderr
