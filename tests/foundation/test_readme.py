"""The README says only what is true: its commands, settings and logins match the code."""

import re

from accounts.demo import DEMO_PASSWORD, DEMO_PEOPLE, DEMO_PHONES
from tests.foundation.helpers import REPO

README = (REPO / "README.md").read_text()


def test_readme_opens_with_the_two_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands == ["make run", "make test"]


def test_every_variable_the_settings_read_is_documented():
    source = (REPO / "config" / "settings.py").read_text()
    names = set(
        re.findall(r"\.(?:str|bool|int|float|list|db|email_url|url|json)\(\s*\"([A-Z][A-Z0-9_]*)\"", source)
    )
    undocumented = sorted(name for name in names if f"`{name}`" not in README)
    assert not undocumented, f"README's configuration table lacks {undocumented}"


def test_demo_logins_in_the_readme_match_seed_demo():
    assert f"`{DEMO_PASSWORD}`" in README
    for role, phone in DEMO_PHONES.items():
        assert phone in README, role
        assert DEMO_PEOPLE[role][0] in README, role


def test_make_targets_named_in_the_readme_exist():
    makefile = (REPO / "Makefile").read_text()
    for target in set(re.findall(r"`make (\w+)`", README)):
        assert re.search(rf"^{target}:", makefile, re.M), target
