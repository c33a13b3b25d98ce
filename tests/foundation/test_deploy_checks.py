"""Production settings: `manage.py check --deploy` prints no warning that the README does not explain,
and the security headers and cookies stay what they are."""

import re
import secrets
import subprocess

from tests.foundation.helpers import BIN, REPO, clean_env, run_python

README = (REPO / "README.md").read_text()


def production_env(**overrides) -> dict[str, str]:
    # Everything the test run switches off for the test client is back to its production default.
    return clean_env(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="shop.example.com",
        STATIC_MANIFEST=None,
        SILENCED_SYSTEM_CHECKS=None,
        WECHATPAY_SANDBOX=None,
        FAST_PASSWORD_HASHER=None,
        **overrides,
    )


def explained_check_ids() -> set[str]:
    """Check ids listed in the README's table of accepted `check --deploy` warnings."""
    section = README.split("### What `check --deploy` says", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_.]+\.[EW]\d{3})` \|", section, re.M))


def test_check_deploy_warns_only_about_what_the_readme_explains():
    result = subprocess.run(
        [str(BIN / "python"), "manage.py", "check", "--deploy", "--fail-level", "CRITICAL"],
        cwd=REPO,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(result.stdout, result.stderr)  # the whole report, for whoever reads the test log
    assert result.returncode == 0, result.stderr
    reported = set(re.findall(r"\(([a-z_.]+\.[EWC]\d{3})\)", result.stdout + result.stderr))
    unexplained = sorted(reported - explained_check_ids())
    assert not unexplained, f"check --deploy warns about {unexplained}; fix it or explain it in README"


def test_security_headers_and_cookies_in_production():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
        "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.SECURE_CONTENT_TYPE_NOSNIFF, s.X_FRAME_OPTIONS, s.SECURE_PROXY_SSL_HEADER, "
        "s.SECURE_REFERRER_POLICY, s.SECURE_CROSS_ORIGIN_OPENER_POLICY)"
    )
    result = run_python(code, env=production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "31536000 True True True True True True True DENY ('HTTP_X_FORWARDED_PROTO', 'https') "
        "same-origin same-origin"
    )
