"""The local demo (DEBUG on, as `make run` starts it) answers a wrong URL with the shop's own 404
page, not Django's debug page listing every URL pattern (issue 7). The API keeps answering JSON."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_a_wrong_url_shows_the_shops_own_404_page(client, debug):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-testid="not-found"' in html and "页面不存在" in html and 'href="/"' in html
    assert "URLconf" not in html and "Using the URL" not in html


def test_a_product_that_does_not_exist_shows_the_shops_own_404_page(client, debug):
    response = client.get("/products/987654321/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-testid="not-found"' in html and "Traceback" not in html


def test_a_wrong_api_url_still_answers_json(client, debug):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_the_404_page_speaks_english_when_asked(client, settings):
    settings.DEBUG = True
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get("/no-such-page/").content.decode()
    assert "Page not found" in html
