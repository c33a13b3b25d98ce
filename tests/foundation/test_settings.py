"""Settings come from the environment only; production settings are safe or refuse to start."""

import secrets

from tests.foundation.helpers import BIN, REPO, clean_env, run_python

SETUP = "import django; django.setup(); from django.conf import settings; print('DEBUG', settings.DEBUG)"


def test_debug_off_with_the_default_secret_key_refuses_to_start():
    result = run_python(SETUP, env=clean_env(DEBUG="0", SECRET_KEY=None))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr


def test_debug_off_with_a_real_secret_key_starts():
    result = run_python(SETUP, env=clean_env(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50)))
    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout


def test_local_demo_starts_with_the_default_key_when_debug_is_on():
    result = run_python(SETUP, env=clean_env(DEBUG="1", SECRET_KEY=None))
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_debug_off_and_a_real_secret_key():
    import subprocess

    env = clean_env(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="shop.example.com",
        STATIC_MANIFEST=None,
    )
    result = subprocess.run(
        [str(BIN / "python"), "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_logs_go_to_stdout():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('weshop.test').warning('log-line-on-stdout')"
    )
    result = run_python(code, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert "log-line-on-stdout" in result.stdout
    assert "log-line-on-stdout" not in result.stderr


def test_no_database_url_means_sqlite_and_filesystem_celery(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE']); print(settings.CELERY_BROKER_URL)"
    )
    result = run_python(
        code, env=clean_env(DATABASE_URL=None, REDIS_URL=None, DEBUG="1", VAR_DIR=str(tmp_path))
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]


def test_filesystem_celery_queue_folders_are_created_on_first_send(tmp_path):
    # The local demo's transport needs its folders; sending the first task must not fail on them.
    code = "import django; django.setup(); from outbox.tasks import deliver; deliver.delay([1])"
    result = run_python(
        code, env=clean_env(DATABASE_URL=None, REDIS_URL=None, DEBUG="1", VAR_DIR=str(tmp_path))
    )
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "celery-queue").glob("*.msg"))) == 1


def test_nothing_configured_is_the_local_demo_with_debug_on(tmp_path):
    env = clean_env(DEBUG=None, SECRET_KEY=None, DATABASE_URL=None, REDIS_URL=None, VAR_DIR=str(tmp_path))
    result = run_python(SETUP, env=env)
    assert result.returncode == 0, result.stderr
    assert "DEBUG True" in result.stdout


def test_a_real_database_without_debug_means_debug_off_and_a_real_key_required():
    result = run_python(SETUP, env=clean_env(DEBUG=None, SECRET_KEY=None))  # DATABASE_URL from the test env
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr
