"""No Docker engine runs here, so the compose file and Dockerfile are checked as text against the settings."""

import re

import pytest
import yaml

from tests.foundation.helpers import REPO

APP_SERVICES = ("migrate", "web", "worker", "beat")
REQUIRED_APP_ENV = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SITE_URL")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def settings_variables() -> set[str]:
    """Every environment variable config/settings.py reads (env.str("NAME"), env.db("NAME"), ...)."""
    source = (REPO / "config" / "settings.py").read_text()
    names = set(
        re.findall(r"\.(?:str|bool|int|float|list|db|email_url|url|json)\(\s*\"([A-Z][A-Z0-9_]*)\"", source)
    )
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= names  # the parser itself works
    return names


def test_the_five_services_and_a_one_shot_migrate(compose):
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["redis"]["image"].startswith("redis:7")
    assert compose["services"]["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    assert compose["services"]["migrate"]["restart"] == "no"


def test_web_is_gunicorn_with_threads_and_worker_and_one_beat_are_celery(compose):
    web = " ".join(compose["services"]["web"]["command"])
    assert web.startswith("gunicorn config.wsgi") and "--config=gunicorn.conf.py" in web
    assert 'worker_class = "gthread"' in (REPO / "gunicorn.conf.py").read_text()
    assert compose["services"]["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert compose["services"]["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert compose["services"]["beat"]["deploy"]["replicas"] == 1


def test_healthchecks(compose):
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_app_services_wait_for_healthy_database_and_redis_and_for_migrations(compose):
    for name in APP_SERVICES:
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        if name != "migrate":
            assert depends["migrate"]["condition"] == "service_completed_successfully", name


def test_database_lives_on_a_named_volume(compose):
    assert "pgdata" in compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def test_app_services_set_only_variables_the_settings_read(compose, settings_variables):
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        unknown = set(environment) - settings_variables
        assert not unknown, f"{name} sets variables config/settings.py never reads: {sorted(unknown)}"
        missing = set(REQUIRED_APP_ENV) - set(environment)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert environment["DEBUG"] == "0"
        assert (
            environment["DATABASE_URL"].startswith("postgres://")
            and "@postgres:5432/" in environment["DATABASE_URL"]
        )
        assert environment["REDIS_URL"].startswith("redis://redis:6379/")
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?"), "no secret key may be baked in"


def test_database_credentials_agree_with_the_postgres_service(compose):
    postgres = compose["services"]["postgres"]["environment"]
    url = compose["services"]["web"]["environment"]["DATABASE_URL"]
    expected = f"postgres://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}"
    assert url == expected


def test_dockerfile_builds_from_the_lock_on_python_311():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert "pip install -r requirements.lock" in dockerfile
    assert "collectstatic" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M), "containers must not run as root"
    assert (REPO / ".dockerignore").read_text().count(".venv") == 1
