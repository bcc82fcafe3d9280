"""Methods no route takes on an /api path answer the API's JSON error, never the page's or
FastAPI's `{"detail"}`: 405 with Allow where the path is routed for other methods, 404 where
it is not. A browser's preflight (OPTIONS with Origin) is the CORS layer's, tested in test_hygiene."""

import httpx
import pytest

UNROUTED = ("OPTIONS", "TRACE", "HEAD", "PUT", "PATCH", "DELETE")


@pytest.fixture
def database_url():
    return None  # routing does not depend on the database: SQLite only


@pytest.mark.parametrize("method", UNROUTED)
def test_a_method_a_routed_path_does_not_take_answers_405_with_allow(server, method):
    for path, allow in (
        ("/api/v1/battles", "POST"),
        ("/api/v1/models", "GET"),
        ("/api/v1/battles/some-id/votes", "POST"),
        ("/api/v1/openapi.json", "GET, HEAD"),
    ):
        if method in allow.split(", "):
            continue
        response = httpx.request(method, f"{server.url}{path}", timeout=30)
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["allow"] == allow
        assert response.headers["content-type"] == "application/json"
        if method != "HEAD":
            assert response.json() == {"error": "Method Not Allowed"}


def test_a_routed_method_is_listed_with_the_others_at_its_path(server):
    response = httpx.request("PATCH", f"{server.url}/api/v1/voter/profile", timeout=30)
    assert response.status_code == 405 and response.headers["allow"] == "DELETE, GET, PUT"


@pytest.mark.parametrize("method", (*UNROUTED, "GET", "POST"))
def test_any_method_on_an_unknown_api_path_answers_a_json_404(server, method):
    response = httpx.request(method, f"{server.url}/api/v1/nothing-here", timeout=30)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/json"
    if method != "HEAD":
        assert response.json() == {"error": "Not Found"}
