"""Headless Chromium against the front doors: a page served by a function through its Function
URL calls other front doors (Function URLs, HTTP APIs), on other origins, with `fetch` under
CORS, and writes what it got into the DOM; the test reads the DOM after the scripts ran
(`chromium --headless --dump-dom`, no driver). The browser does all of CORS itself: its preflights, its refusal of an answer
without `Access-Control-Allow-Origin`, its hiding of headers not exposed. `*.localhost` names
resolve to loopback inside Chromium, so the host-based URLs `GetFunctionUrlConfig` and
`CreateApi` return are used as they are.

Debian's `chromium` (`scripts/system-deps.sh --dev`); without it the tests skip, or fail when
`FIRESIDE_TEST_REQUIRE` names `chromium`, as CI's does."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import FunctionFactory, Server, unavailable
from tests.test_function_urls import public_url

#: The page: the calls to make come in its query string (`calls`, JSON: id, url, fetch
#: options); each result is an `<li>` holding JSON, and `#done` says all have settled.
PAGE = """<!doctype html>
<html><head><title>front doors</title></head>
<body><ul id="results"></ul><p id="done"></p>
<script>
const calls = JSON.parse(new URLSearchParams(location.search).get("calls"));
Promise.all(calls.map(async (call) => {
  const item = document.createElement("li");
  item.id = call.id;
  try {
    const answer = await fetch(call.url, call.init);
    item.textContent = JSON.stringify({
      status: answer.status,
      servedBy: answer.headers.get("x-served-by"),
      body: await answer.text(),
    });
  } catch (error) {
    item.textContent = JSON.stringify({error: error.name + ": " + error.message});
  }
  document.getElementById("results").append(item);
})).then(() => { document.getElementById("done").textContent = "done"; });
</script></body></html>
"""

PAGE_HANDLER = f"""
PAGE = {PAGE!r}

def handler(event, context):
    return {{"statusCode": 200, "headers": {{"content-type": "text/html; charset=utf-8"}},
            "body": PAGE}}
"""

#: The API the page calls: what it saw of the request, and a header only exposed ones show.
API_HANDLER = """
import json

def handler(event, context):
    headers = event["headers"]
    return {"statusCode": 200, "headers": {"x-served-by": "api"},
            "body": json.dumps({"method": event["requestContext"]["http"]["method"],
                                "path": event["rawPath"], "token": headers.get("x-token"),
                                "origin": headers.get("origin"), "body": event.get("body")})}
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        unavailable(
            "chromium", "no chromium on PATH (Debian's package: scripts/system-deps.sh --dev)"
        )
    return found


def render(url: str, profile: Path, budget_ms: int = 20_000) -> str:
    """The DOM of `url` once its scripts ran (virtual time stands still while fetches wait)."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",  # the tests may run as root, where Chromium's own sandbox refuses
        "--disable-gpu",
        "--no-proxy-server",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def results(dom: str) -> dict[str, dict[str, Any]]:
    """The page's `<li id=...>` results, each parsed from its JSON."""
    assert '<p id="done">done</p>' in dom, dom
    return {
        match[1]: json.loads(html.unescape(match[2]))
        for match in re.finditer(r'<li id="([^"]+)">(.*?)</li>', dom, re.S)
    }


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_url(page: str, calls: list[dict[str, Any]]) -> str:
    return f"{page}?calls={quote(json.dumps(calls))}"


def http_api(server: Server, function_name: str, cors: dict[str, Any]) -> str:
    """A quick-created HTTP API (`$default` route and stage) for the function, with `cors`,
    allowed to invoke it as SAM's `AWS::Lambda::Permission` does; its endpoint."""
    lam = server.client()
    arn = lam.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
    api = server.client("apigatewayv2").create_api(
        Name="browser", ProtocolType="HTTP", Target=arn, CorsConfiguration=cors
    )
    lam.add_permission(
        FunctionName=function_name,
        StatementId=f"apigw-{api['ApiId']}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:{arn.split(':')[4]}:{api['ApiId']}/*",
    )
    endpoint: str = api["ApiEndpoint"]
    return endpoint + "/"


def test_page_calls_front_doors_under_cors(
    lam: Any, server: Server, make_function: FunctionFactory, tmp_path: Path
) -> None:
    """The page (one Function URL) calls another Function URL and an HTTP API, each allowing
    the page's origin, and one of each allowing another origin only."""
    chromium()
    page = public_url(lam, make_function(PAGE_HANDLER))
    allowed = {
        "AllowOrigins": [origin_of(page)],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["content-type", "x-token"],
        "ExposeHeaders": ["x-served-by"],
        "MaxAge": 60,
    }
    other = {"AllowOrigins": ["https://elsewhere.example"], "AllowMethods": ["*"]}
    doors = {
        "url": public_url(lam, make_function(API_HANDLER), Cors=allowed),
        "refused-url": public_url(lam, make_function(API_HANDLER), Cors=other),
        "api": http_api(server, make_function(API_HANDLER), allowed),
        "refused-api": http_api(server, make_function(API_HANDLER), other),
    }
    assert len({origin_of(page), *(origin_of(url) for url in doors.values())}) == 5
    post = {
        "method": "POST",
        # JSON and a custom header: not a "simple" request, so the browser sends a preflight.
        "headers": {"content-type": "application/json", "x-token": "t-1"},
        "body": json.dumps({"name": "x"}),
    }
    calls = []
    for door, url in doors.items():
        calls += [
            {"id": f"{door}-get", "url": f"{url}items/7?color=red", "init": {}},
            {"id": f"{door}-post", "url": f"{url}items", "init": post},
        ]
    got = results(render(page_url(page, calls), tmp_path / "profile"))

    for door in ("url", "api"):
        answer = got[f"{door}-get"]
        assert answer["status"] == 200, (door, answer)
        assert answer["servedBy"] == "api"  # exposed, so the page may read it
        seen = json.loads(answer["body"])
        assert seen["method"] == "GET" and seen["path"] == "/items/7"
        assert seen["origin"] == origin_of(page)

        answer = got[f"{door}-post"]
        assert answer["status"] == 200, (door, answer)
        seen = json.loads(answer["body"])
        assert (seen["method"], seen["path"], seen["token"]) == ("POST", "/items", "t-1")
        assert json.loads(seen["body"]) == {"name": "x"}

    # Not allowed: a preflight answered without CORS headers stops the POST before it is
    # sent; the simple GET is sent without one, but its answer does not name the page's
    # origin, so the browser keeps it from the page.
    for refused in ("refused-url-get", "refused-url-post", "refused-api-get", "refused-api-post"):
        assert got[refused] == {"error": "TypeError: Failed to fetch"}, (refused, got[refused])


def test_page_without_cors_headers_is_unreadable_cross_origin(
    lam: Any, server: Server, make_function: FunctionFactory, tmp_path: Path
) -> None:
    """A URL without a CORS configuration adds nothing: a browser on another origin cannot
    read it, while the same page reads a same-origin path of its own URL."""
    chromium()
    page = public_url(lam, make_function(PAGE_HANDLER))
    plain = public_url(lam, make_function(API_HANDLER))
    calls = [
        {"id": "same-origin", "url": f"{page}again", "init": {}},
        {"id": "no-cors", "url": plain, "init": {}},
    ]
    got = results(render(page_url(page, calls), tmp_path / "profile"))
    assert got["same-origin"]["status"] == 200
    assert got["same-origin"]["body"].startswith("<!doctype html>")
    assert got["no-cors"] == {"error": "TypeError: Failed to fetch"}


def test_chromium_is_required_where_ci_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Chromium on PATH the browser tests skip, or fail where the run requires it."""
    monkeypatch.setenv("PATH", "/nonexistent")
    import tests.conftest as conftest

    monkeypatch.setattr(conftest, "REQUIRED", frozenset({"chromium"}))
    with pytest.raises(pytest.fail.Exception, match="chromium is required"):
        chromium()
    monkeypatch.setattr(conftest, "REQUIRED", frozenset())
    with pytest.raises(pytest.skip.Exception, match="chromium unavailable"):
        chromium()
