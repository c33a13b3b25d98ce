import pytest
from django.db import connection


@pytest.mark.django_db
def test_runs_on_postgres():
    assert connection.vendor == "postgresql"
