"""ALB listeners with Lambda targets, driven with httpx against the real ports: the event and
answer of the reference (3.1), rules and their conditions, fixed responses, redirects,
weighted forwards, ALB's errors (502, 413, 400 for a WebSocket upgrade), HTTPS, health checks,
and listeners surviving a restart."""

from __future__ import annotations

import base64
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alb_support import Alb, free_port, lambda_group, make_alb, make_function
from tests.conftest import Server


@pytest.fixture(scope="module")
def alb(server: Server) -> Alb:
    return make_alb(server)


def test_the_event_is_the_reference_shape(alb: Alb) -> None:
    response = httpx.post(
        f"{alb.url}/api/items?a=1&a=2&q=hello%20world",
        content=b'{"k": 1}',
        headers={"content-type": "application/json", "x-custom": "yes"},
    )
    assert response.status_code == 200
    assert response.headers["server"] == "awselb/2.0"
    event = response.json()
    assert event["requestContext"] == {"elb": {"targetGroupArn": alb.group_arn}}
    assert event["httpMethod"] == "POST"
    assert event["path"] == "/api/items"
    # the last value of a repeated key; values passed as received (not URL-decoded)
    assert event["queryStringParameters"] == {"a": "2", "q": "hello%20world"}
    headers = event["headers"]
    assert headers["x-custom"] == "yes"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-port"] == str(alb.port)
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-amzn-trace-id"].startswith("Root=1-")
    assert event["body"] == '{"k": 1}'
    assert event["isBase64Encoded"] is False
    assert "multiValueHeaders" not in event


def test_binary_bodies_are_base64_both_ways(alb: Alb) -> None:
    sent = bytes(range(256))
    response = httpx.post(
        f"{alb.url}/echo", content=sent, headers={"content-type": "application/octet-stream"}
    )
    event = response.json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == sent
    form = httpx.post(f"{alb.url}/echo", data={"a": "1"}).json()  # not one of ALB's text types
    assert (form["isBase64Encoded"], base64.b64decode(form["body"])) == (True, b"a=1")
    text = httpx.post(f"{alb.url}/echo", content=b"hi", headers={"content-type": "text/csv"})
    assert (text.json()["isBase64Encoded"], text.json()["body"]) == (False, "hi")
    binary = httpx.get(f"{alb.url}/binary")
    assert binary.content == sent
    assert binary.headers["content-type"] == "application/octet-stream"


def test_status_description_is_the_reason_phrase(alb: Alb) -> None:
    with httpx.Client() as client:
        response = client.get(f"{alb.url}/teapot")
    assert response.status_code == 418
    assert response.reason_phrase == "Short And Stout"
    assert response.headers["x-kind"] == "teapot"
    assert response.text == "tea"


@pytest.mark.parametrize("path", ["/malformed", "/nostatus", "/fail", "/huge"])
def test_a_bad_function_answer_is_a_502(alb: Alb, path: str) -> None:
    response = httpx.get(f"{alb.url}{path}")
    assert response.status_code == 502
    assert "502 Bad Gateway" in response.text
    assert response.headers["content-type"] == "text/html"


def test_a_body_over_1_mb_is_refused_413(alb: Alb) -> None:
    response = httpx.post(f"{alb.url}/echo", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert httpx.post(f"{alb.url}/echo", content=b"x" * 1000).status_code == 200


def test_a_websocket_upgrade_is_refused_400(alb: Alb) -> None:
    response = httpx.get(
        f"{alb.url}/chat",
        headers={
            "connection": "Upgrade",
            "upgrade": "websocket",
            "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
            "sec-websocket-version": "13",
        },
    )
    assert response.status_code == 400


def test_multi_value_headers_when_the_group_enables_them(server: Server, alb: Alb) -> None:
    function = make_function(server)
    group = lambda_group(server, function)
    alb.elb.modify_target_group_attributes(
        TargetGroupArn=group,
        Attributes=[{"Key": "lambda.multi_value_headers.enabled", "Value": "true"}],
    )
    attributes = alb.elb.describe_target_group_attributes(TargetGroupArn=group)["Attributes"]
    assert {"Key": "lambda.multi_value_headers.enabled", "Value": "true"} in attributes
    rule = alb.elb.create_rule(
        ListenerArn=alb.listener_arn,
        Priority=40,
        Conditions=[{"Field": "path-pattern", "Values": ["/multi*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": group}],
    )["Rules"][0]
    try:
        response = httpx.get(
            f"{alb.url}/multi?a=1&a=2&b=3",
            headers=[("x-one", "1"), ("x-two", "a"), ("x-two", "b, c")],
        )
        assert response.status_code == 200
        event = response.json()
        assert event["multiValueHeaders"]["x-two"] == ["a", "b, c"]
        assert "headers" not in event and "queryStringParameters" not in event
        assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}
        assert event["multiValueHeaders"]["x-one"] == ["1"]
        assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    finally:
        alb.elb.delete_rule(RuleArn=rule["RuleArn"])


def test_rules_route_by_every_condition_kind(alb: Alb) -> None:
    def fixed(text: str) -> list[dict[str, Any]]:
        return [
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "200",
                    "ContentType": "text/plain",
                    "MessageBody": text,
                },
            }
        ]

    conditions: list[tuple[int, list[dict[str, Any]], str]] = [
        (1, [{"Field": "host-header", "Values": ["*.example.com"]}], "host"),
        (
            2,
            [
                {
                    "Field": "http-header",
                    "HttpHeaderConfig": {"HttpHeaderName": "X-Version", "Values": ["v2*"]},
                }
            ],
            "header",
        ),
        (3, [{"Field": "http-request-method", "Values": ["DELETE"]}], "method"),
        (
            4,
            [
                {
                    "Field": "query-string",
                    "QueryStringConfig": {"Values": [{"Key": "mode", "Value": "fixed"}]},
                }
            ],
            "query",
        ),
        (5, [{"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}], "never"),
        (
            6,
            [
                {"Field": "path-pattern", "Values": ["/static/?.css"]},
                {"Field": "http-request-method", "Values": ["GET"]},
            ],
            "both",
        ),
        (
            7,
            [
                {"Field": "source-ip", "SourceIpConfig": {"Values": ["127.0.0.0/8"]}},
                {"Field": "path-pattern", "Values": ["/local"]},
            ],
            "local",
        ),
    ]
    made = [
        alb.elb.create_rule(
            ListenerArn=alb.listener_arn, Priority=p, Conditions=c, Actions=fixed(text)
        )["Rules"][0]["RuleArn"]
        for p, c, text in conditions
    ]
    try:
        assert httpx.get(f"{alb.url}/", headers={"host": "api.EXAMPLE.com"}).text == "host"
        assert httpx.get(f"{alb.url}/", headers={"x-version": "V2.1"}).text == "header"
        assert httpx.delete(f"{alb.url}/anything").text == "method"
        assert httpx.get(f"{alb.url}/?mode=FIXED").text == "query"
        assert httpx.get(f"{alb.url}/static/a.css").text == "both"
        assert httpx.post(f"{alb.url}/static/a.css").json()["httpMethod"] == "POST"
        assert httpx.get(f"{alb.url}/static/ab.css").json()["path"] == "/static/ab.css"
        assert httpx.get(f"{alb.url}/local").text == "local"
        # a lower priority number wins: make the host rule the last, and the header rule wins
        alb.elb.set_rule_priorities(
            RulePriorities=[
                {"RuleArn": made[0], "Priority": 100},
                {"RuleArn": made[1], "Priority": 1},
            ]
        )
        both = {"host": "api.example.com", "x-version": "v2"}
        assert httpx.get(f"{alb.url}/", headers=both).text == "header"
    finally:
        for arn in made:
            alb.elb.delete_rule(RuleArn=arn)


def test_fixed_responses_and_redirects(alb: Alb) -> None:
    fixed = alb.elb.create_rule(
        ListenerArn=alb.listener_arn,
        Priority=20,
        Conditions=[{"Field": "path-pattern", "Values": ["/gone"]}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "410",
                    "ContentType": "application/json",
                    "MessageBody": '{"gone": true}',
                },
            }
        ],
    )["Rules"][0]
    redirect = alb.elb.create_rule(
        ListenerArn=alb.listener_arn,
        Priority=21,
        Conditions=[{"Field": "path-pattern", "Values": ["/old/*"]}],
        Actions=[
            {
                "Type": "redirect",
                "RedirectConfig": {
                    "Protocol": "HTTPS",
                    "Port": "443",
                    "Host": "new.example.com",
                    "Path": "/new/#{path}",
                    "StatusCode": "HTTP_301",
                },
            }
        ],
    )["Rules"][0]
    try:
        gone = httpx.get(f"{alb.url}/gone")
        assert (gone.status_code, gone.json()) == (410, {"gone": True})
        assert gone.headers["content-type"] == "application/json"
        moved = httpx.get(f"{alb.url}/old/page?x=1")
        assert moved.status_code == 301
        assert moved.headers["location"] == "https://new.example.com/new/old/page?x=1"
    finally:
        alb.elb.delete_rule(RuleArn=fixed["RuleArn"])
        alb.elb.delete_rule(RuleArn=redirect["RuleArn"])


def test_weighted_forward_spreads_over_target_groups(server: Server, alb: Alb) -> None:
    other = lambda_group(server, make_function(server))
    rule = alb.elb.create_rule(
        ListenerArn=alb.listener_arn,
        Priority=30,
        Conditions=[{"Field": "path-pattern", "Values": ["/split"]}],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": alb.group_arn, "Weight": 1},
                        {"TargetGroupArn": other, "Weight": 1},
                    ]
                },
            }
        ],
    )["Rules"][0]
    try:
        seen = {
            httpx.get(f"{alb.url}/split").json()["requestContext"]["elb"]["targetGroupArn"]
            for _ in range(40)
        }
        assert seen == {alb.group_arn, other}  # 2**-39 odds of a false failure
        alb.elb.modify_rule(
            RuleArn=rule["RuleArn"],
            Actions=[
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": alb.group_arn, "Weight": 0},
                            {"TargetGroupArn": other, "Weight": 5},
                        ]
                    },
                }
            ],
        )
        seen = {
            httpx.get(f"{alb.url}/split").json()["requestContext"]["elb"]["targetGroupArn"]
            for _ in range(10)
        }
        assert seen == {other}
        groups = alb.elb.describe_target_groups(LoadBalancerArn=alb.lb_arn)["TargetGroups"]
        assert {g["TargetGroupArn"] for g in groups} == {alb.group_arn, other}
    finally:
        alb.elb.delete_rule(RuleArn=rule["RuleArn"])


def test_an_empty_target_group_answers_503(server: Server, alb: Alb) -> None:
    empty = alb.elb.create_target_group(Name="empty-group", TargetType="lambda")
    arn = empty["TargetGroups"][0]["TargetGroupArn"]
    rule = alb.elb.create_rule(
        ListenerArn=alb.listener_arn,
        Priority=31,
        Conditions=[{"Field": "path-pattern", "Values": ["/empty"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": arn}],
    )["Rules"][0]
    try:
        assert httpx.get(f"{alb.url}/empty").status_code == 503
    finally:
        alb.elb.delete_rule(RuleArn=rule["RuleArn"])
        alb.elb.delete_target_group(TargetGroupArn=arn)


def _wait(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_health_checks_of_a_lambda_target(server: Server, alb: Alb) -> None:
    def state() -> dict[str, Any]:
        found = alb.elb.describe_target_health(TargetGroupArn=alb.group_arn)
        health: dict[str, Any] = found["TargetHealthDescriptions"][0]["TargetHealth"]
        return health

    assert state()["State"] == "unavailable"
    assert state()["Reason"] == "Target.HealthCheckDisabled"
    alb.elb.modify_target_group(
        TargetGroupArn=alb.group_arn,
        HealthCheckEnabled=True,
        HealthCheckPath="/health?code=200",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=4,
        UnhealthyThresholdCount=2,
        Matcher={"HttpCode": "200-299"},
    )
    try:
        _wait(lambda: state()["State"] == "healthy")
        # the health check's event is a GET of HealthCheckPath; a failing code turns it
        alb.elb.modify_target_group(
            TargetGroupArn=alb.group_arn,
            HealthCheckPath="/fail",
            Matcher={"HttpCode": "200"},
        )
        _wait(lambda: state()["State"] == "unhealthy", timeout=40)
        assert state()["Reason"] == "Target.FailedHealthChecks"
    finally:
        alb.elb.modify_target_group(TargetGroupArn=alb.group_arn, HealthCheckEnabled=False)


def test_https_listeners_with_generated_and_file_certificates(
    server: Server, alb: Alb, tmp_path: Path
) -> None:
    port = free_port()
    listener = alb.elb.create_listener(
        LoadBalancerArn=alb.lb_arn,
        Protocol="HTTPS",
        Port=port,
        Certificates=[{"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/x"}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": alb.group_arn}],
    )["Listeners"][0]
    authority = server.data_dir / "tls" / "ca.pem"
    import ssl

    trusted = ssl.create_default_context(cafile=str(authority))
    response = httpx.get(f"https://localhost:{port}/secure", verify=trusted)
    event = response.json()
    assert event["headers"]["x-forwarded-proto"] == "https"
    assert listener["SslPolicy"] == "ELBSecurityPolicy-2016-08"
    alb.elb.delete_listener(ListenerArn=listener["ListenerArn"])
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"https://localhost:{port}/secure", verify=False)

    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "my.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("my.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "site.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "site.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    port = free_port()
    listener = alb.elb.create_listener(
        LoadBalancerArn=alb.lb_arn,
        Protocol="HTTPS",
        Port=port,
        Certificates=[{"CertificateArn": f"file://{cert_path}"}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": alb.group_arn}],
    )["Listeners"][0]
    try:
        with httpx.Client(verify=False) as client:
            assert client.get(f"https://127.0.0.1:{port}/f").json()["path"] == "/f"
        served = ssl.get_server_certificate(("127.0.0.1", port))
        assert x509.load_pem_x509_certificate(served.encode()) == certificate
    finally:
        alb.elb.delete_listener(ListenerArn=listener["ListenerArn"])


def test_listeners_reopen_after_a_kill(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server()
    alb = make_alb(srv)
    assert httpx.get(f"{alb.url}/before").json()["path"] == "/before"
    srv.stop(signal.SIGKILL)  # what was acknowledged is committed: no shutdown needed
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{alb.url}/down")
    again = fresh_server(srv.data_dir)
    _wait(lambda: _answers(f"{alb.url}/after"))
    assert httpx.get(f"{alb.url}/after").json()["requestContext"]["elb"]["targetGroupArn"] == (
        alb.group_arn
    )
    elb = again.client("elbv2")
    listeners = elb.describe_listeners(LoadBalancerArn=alb.lb_arn)["Listeners"]
    assert [x["Port"] for x in listeners] == [alb.port]
    elb.delete_load_balancer(LoadBalancerArn=alb.lb_arn)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{alb.url}/deleted")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


def test_a_raw_request_with_repeated_headers(alb: Alb) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", alb.port)) as sock:
        sock.sendall(
            b"GET /raw HTTP/1.1\r\nHost: x\r\nX-Dup: a\r\nX-Dup: b\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert json.loads(body)["headers"]["x-dup"] == "b"  # the last value sent, as ALB


def test_load_balancers_share_a_port_by_host(server: Server) -> None:
    elb = server.client("elbv2")
    port = free_port()
    made = []
    for text in ("one", "two"):
        lb = elb.create_load_balancer(Name=f"share-{text}-{port}")["LoadBalancers"][0]
        made.append(lb)
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=port,
            DefaultActions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "200", "MessageBody": text},
                }
            ],
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        for lb, text in zip(made, ("one", "two"), strict=True):
            assert httpx.get(url, headers={"host": f"{lb['DNSName']}:{port}"}).text == text
        assert httpx.get(url).text == "one"  # no load balancer named: the first one there
        with pytest.raises(Exception) as caught:
            elb.create_listener(
                LoadBalancerArn=elb.create_load_balancer(Name=f"share-tls-{port}")["LoadBalancers"][
                    0
                ]["LoadBalancerArn"],
                Protocol="HTTPS",
                Port=port,
                Certificates=[{"CertificateArn": "arn:aws:acm:us-east-1:0:certificate/x"}],
                DefaultActions=[
                    {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}
                ],
            )
        assert "InvalidConfigurationRequest" in str(caught.value)
        elb.delete_load_balancer(LoadBalancerArn=made[0]["LoadBalancerArn"])
        assert httpx.get(url).text == "two"  # the port stays open for the other
    finally:
        for lb in elb.describe_load_balancers()["LoadBalancers"]:
            if lb["LoadBalancerName"].startswith("share-"):
                elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/")


def test_a_revoked_permission_is_a_502(server: Server, alb: Alb) -> None:
    function = make_function(server)
    group = lambda_group(server, function)
    rule = alb.elb.create_rule(
        ListenerArn=alb.listener_arn,
        Priority=50,
        Conditions=[{"Field": "path-pattern", "Values": ["/revoked"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": group}],
    )["Rules"][0]
    try:
        assert httpx.get(f"{alb.url}/revoked").status_code == 200
        policy = json.loads(alb.lam.get_policy(FunctionName=function)["Policy"])
        alb.lam.remove_permission(FunctionName=function, StatementId=policy["Statement"][0]["Sid"])
        assert httpx.get(f"{alb.url}/revoked").status_code == 502
    finally:
        alb.elb.delete_rule(RuleArn=rule["RuleArn"])


def test_malformed_http_on_a_listener_is_refused(alb: Alb) -> None:
    import socket

    for garbage in (b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", alb.port), timeout=10) as sock:
            sock.sendall(garbage)
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 400 "), answer
    # the listener still serves
    assert httpx.get(f"{alb.url}/after-garbage").json()["path"] == "/after-garbage"


def test_a_function_slower_than_the_idle_timeout_is_a_504(alb: Alb) -> None:
    def idle(seconds: str) -> None:
        alb.elb.modify_load_balancer_attributes(
            LoadBalancerArn=alb.lb_arn,
            Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": seconds}],
        )

    idle("1")
    try:
        started = time.monotonic()
        assert httpx.get(f"{alb.url}/sleep", timeout=30).status_code == 504
        assert time.monotonic() - started < 2.5
    finally:
        idle("60")


def test_an_alias_as_the_target(server: Server) -> None:
    function = make_function(server)
    lam = server.client("lambda")
    version = lam.publish_version(FunctionName=function)["Version"]
    alias = lam.create_alias(FunctionName=function, Name="live", FunctionVersion=version)
    balancer = make_alb(server, alias["AliasArn"])  # the grant is the alias's own
    try:
        event = httpx.get(f"{balancer.url}/via-alias").json()
        assert event["path"] == "/via-alias"
        health = balancer.elb.describe_target_health(TargetGroupArn=balancer.group_arn)
        assert health["TargetHealthDescriptions"][0]["Target"]["Id"] == alias["AliasArn"]
    finally:
        balancer.elb.delete_load_balancer(LoadBalancerArn=balancer.lb_arn)
