"""The elbv2 control plane with boto3: load balancers, listeners, rules, target groups, tags,
AWS's errors for bad input, the RegisterTargets permission check, and accounts as walls."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.alb_support import free_port, lambda_group, make_function
from tests.conftest import Server

A = "111111111111"
B = "222222222222"
SECRETS = {A: "secret-of-a", B: "secret-of-b"}
FIXED = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: dict[str, Any] = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@pytest.fixture()
def elb(server: Server) -> Any:
    return server.client("elbv2")


@pytest.fixture()
def balancer(elb: Any) -> Iterator[str]:
    arn: str = elb.create_load_balancer(Name=_name("lb"))["LoadBalancers"][0]["LoadBalancerArn"]
    yield arn
    elb.delete_load_balancer(LoadBalancerArn=arn)


def _default_subnets(server: Server) -> list[str]:
    found = server.client("ec2").describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"]
    return sorted(s["SubnetId"] for s in found)[:2]


def test_load_balancers_are_made_described_and_deleted(server: Server, elb: Any) -> None:
    name = _name("web")
    subnets = _default_subnets(server)
    made = elb.create_load_balancer(
        Name=name, Subnets=subnets, Tags=[{"Key": "team", "Value": "x"}]
    )["LoadBalancers"][0]
    arn = made["LoadBalancerArn"]
    assert arn.startswith("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/")
    assert made["DNSName"].startswith(f"{name}-") and made["DNSName"].endswith(
        ".us-east-1.elb.localhost"
    )
    assert made["State"] == {"Code": "active"}
    assert (made["Type"], made["Scheme"]) == ("application", "internet-facing")
    assert [z["SubnetId"] for z in made["AvailabilityZones"]] == subnets
    assert made["VpcId"].startswith("vpc-")
    # idempotent with the same settings, as on AWS
    again = elb.create_load_balancer(Name=name, Subnets=subnets)
    assert again["LoadBalancers"][0]["LoadBalancerArn"] == arn
    with pytest.raises(ClientError) as caught:
        elb.create_load_balancer(Name=name, Scheme="internal")
    assert _error(caught)[0] == "DuplicateLoadBalancerName"
    assert elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]["LoadBalancerArn"] == arn
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[arn])
    tags = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    assert tags == [{"Key": "team", "Value": "x"}]
    attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    assert {"Key": "deletion_protection.enabled", "Value": "false"} in attributes
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    with pytest.raises(ClientError) as caught:
        elb.delete_load_balancer(LoadBalancerArn=arn)
    assert _error(caught)[0] == "OperationNotPermitted"
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    elb.delete_load_balancer(LoadBalancerArn=arn)
    with pytest.raises(ClientError) as caught:
        elb.describe_load_balancers(LoadBalancerArns=[arn])
    assert _error(caught)[0] == "LoadBalancerNotFound"
    with pytest.raises(ClientError) as caught:
        elb.describe_load_balancers(Names=[name])
    assert _error(caught) == ("LoadBalancerNotFound", f"Load balancers '[{name}]' not found", 400)


@pytest.mark.parametrize("name", ["-lead", "trail-", "x" * 33, "bad_name", "internal-x"])
def test_bad_load_balancer_names(elb: Any, name: str) -> None:
    with pytest.raises(ClientError) as caught:
        elb.create_load_balancer(Name=name)
    assert _error(caught)[0] == "ValidationError"


def test_paging_load_balancers(elb: Any) -> None:
    made = [
        elb.create_load_balancer(Name=_name("page"))["LoadBalancers"][0]["LoadBalancerArn"]
        for _ in range(3)
    ]
    try:
        seen: list[str] = []
        for page in elb.get_paginator("describe_load_balancers").paginate(
            PaginationConfig={"PageSize": 2}
        ):
            seen += [lb["LoadBalancerArn"] for lb in page["LoadBalancers"]]
        assert set(made) <= set(seen) and len(seen) == len(set(seen))
    finally:
        for arn in made:
            elb.delete_load_balancer(LoadBalancerArn=arn)


def test_target_group_checks(server: Server, elb: Any) -> None:
    with pytest.raises(ClientError) as caught:
        elb.create_target_group(Name=_name("tg"), TargetType="lambda", Protocol="HTTP")
    assert _error(caught) == (
        "ValidationError",
        "Protocol cannot be specified for target groups with target type 'lambda'",
        400,
    )
    with pytest.raises(ClientError) as caught:
        elb.create_target_group(Name="x" * 33, TargetType="lambda")
    assert _error(caught)[0] == "ValidationError"
    with pytest.raises(ClientError) as caught:
        elb.create_target_group(Name=_name("tg"), Protocol="HTTP")
    assert _error(caught) == ("ValidationError", "A port must be specified", 400)
    vpc = server.client("ec2").describe_vpcs()["Vpcs"][0]["VpcId"]
    instance = elb.create_target_group(Name=_name("inst"), Protocol="HTTP", Port=80, VpcId=vpc)[
        "TargetGroups"
    ][0]
    assert instance["HealthCheckEnabled"] is True and instance["TargetType"] == "instance"
    # An instance never registered: described with the group's port, as AWS describes it
    # (moto's AWS-verified test_describe_unknown_targets).
    assert elb.describe_target_health(
        TargetGroupArn=instance["TargetGroupArn"], Targets=[{"Id": "i-12345678901234567"}]
    )["TargetHealthDescriptions"] == [
        {
            "Target": {"Id": "i-12345678901234567", "Port": 80},
            "HealthCheckPort": "80",
            "TargetHealth": {
                "State": "unused",
                "Reason": "Target.NotRegistered",
                "Description": "Target is not registered to the target group",
            },
        }
    ]
    group = elb.create_target_group(Name=_name("tg"), TargetType="lambda")["TargetGroups"][0]
    assert group["HealthCheckEnabled"] is False
    assert group["HealthCheckIntervalSeconds"] == 35
    arn = group["TargetGroupArn"]
    attributes = elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
    assert attributes == [{"Key": "lambda.multi_value_headers.enabled", "Value": "false"}]
    with pytest.raises(ClientError) as caught:
        elb.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "10"}],
        )
    assert _error(caught)[0] == "InvalidConfigurationRequest"
    with pytest.raises(ClientError) as caught:
        elb.modify_target_group(TargetGroupArn=arn, Matcher={"HttpCode": "abc"})
    assert _error(caught)[0] == "ValidationError"
    with pytest.raises(ClientError) as caught:
        elb.describe_target_groups(Names=["no-such-group"])
    assert _error(caught)[0] == "TargetGroupNotFound"
    elb.delete_target_group(TargetGroupArn=arn)
    elb.delete_target_group(TargetGroupArn=instance["TargetGroupArn"])
    elb.delete_target_group(TargetGroupArn=arn)  # already gone: success, as on AWS


def test_register_targets_checks_the_functions_policy(server: Server, elb: Any) -> None:
    function = make_function(server)
    group = elb.create_target_group(Name=_name("tg"), TargetType="lambda")["TargetGroups"][0]
    arn = group["TargetGroupArn"]
    with pytest.raises(ClientError) as caught:
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": function}])
    assert _error(caught) == (
        "AccessDenied",
        f"elasticloadbalancing principal does not have permission to invoke {function} from"
        f" target group {arn}",
        403,
    )
    lam = server.client("lambda")
    # a grant for another target group is not this one's
    lam.add_permission(
        FunctionName=function,
        StatementId="other",
        Action="lambda:InvokeFunction",
        Principal="elasticloadbalancing.amazonaws.com",
        SourceArn=arn + "0",
    )
    with pytest.raises(ClientError) as caught:
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": function}])
    assert _error(caught)[0] == "AccessDenied"
    lam.add_permission(
        FunctionName=function,
        StatementId="this",
        Action="lambda:InvokeFunction",
        Principal="elasticloadbalancing.amazonaws.com",
        SourceArn=arn,
    )
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": function}])
    health = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    assert health[0]["Target"] == {"Id": function}
    with pytest.raises(ClientError) as caught:
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": function + "-2"}])
    assert _error(caught)[0] == "TooManyTargets"
    missing = function.replace(":function:", ":function:missing-")
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": function}])
    assert elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"] == []
    with pytest.raises(ClientError) as caught:
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": missing}])
    assert _error(caught)[0] == "InvalidTarget"
    elb.delete_target_group(TargetGroupArn=arn)


def test_listener_checks(server: Server, elb: Any, balancer: str) -> None:
    port = free_port()
    listener = elb.create_listener(
        LoadBalancerArn=balancer, Protocol="HTTP", Port=port, DefaultActions=FIXED
    )["Listeners"][0]
    with pytest.raises(ClientError) as caught:
        elb.create_listener(
            LoadBalancerArn=balancer, Protocol="HTTP", Port=port, DefaultActions=FIXED
        )
    assert _error(caught)[0] == "DuplicateListener"
    with pytest.raises(ClientError) as caught:  # Fireside's own port is taken
        elb.create_listener(
            LoadBalancerArn=balancer, Protocol="HTTP", Port=server.port, DefaultActions=FIXED
        )
    code, message, _ = _error(caught)
    assert code == "InvalidConfigurationRequest"
    assert f":{server.port}" in message and "in use" in message
    with pytest.raises(ClientError) as caught:
        elb.create_listener(
            LoadBalancerArn=balancer, Protocol="TCP", Port=free_port(), DefaultActions=FIXED
        )
    assert _error(caught) == (
        "ValidationError",
        "Listener protocol 'TCP' must be one of 'HTTPS, HTTP'",
        400,
    )
    with pytest.raises(ClientError) as caught:
        elb.create_listener(
            LoadBalancerArn=balancer, Protocol="HTTPS", Port=free_port(), DefaultActions=FIXED
        )
    assert _error(caught)[0] == "CertificateNotFound"
    with pytest.raises(ClientError) as caught:
        elb.create_listener(
            LoadBalancerArn=balancer,
            Protocol="HTTPS",
            Port=free_port(),
            Certificates=[{"CertificateArn": "file:///no/such/cert.pem"}],
            DefaultActions=FIXED,
        )
    assert _error(caught)[0] == "CertificateNotFound"
    with pytest.raises(ClientError) as caught:
        elb.describe_listeners()
    assert _error(caught)[0] == "ValidationError"
    moved = free_port()
    changed = elb.modify_listener(ListenerArn=listener["ListenerArn"], Port=moved)["Listeners"]
    assert changed[0]["Port"] == moved
    described = elb.describe_listeners(LoadBalancerArn=balancer)["Listeners"]
    assert [x["Port"] for x in described] == [moved]
    elb.delete_listener(ListenerArn=listener["ListenerArn"])
    with pytest.raises(ClientError) as caught:
        elb.describe_listeners(ListenerArns=[listener["ListenerArn"]])
    assert _error(caught)[0] == "ListenerNotFound"


def test_rule_checks(elb: Any, balancer: str) -> None:
    listener = elb.create_listener(
        LoadBalancerArn=balancer, Protocol="HTTP", Port=free_port(), DefaultActions=FIXED
    )["Listeners"][0]["ListenerArn"]
    path = [{"Field": "path-pattern", "Values": ["/a"]}]
    rule = elb.create_rule(ListenerArn=listener, Priority=1, Conditions=path, Actions=FIXED)
    rule_arn = rule["Rules"][0]["RuleArn"]
    assert rule["Rules"][0]["Conditions"][0]["PathPatternConfig"] == {"Values": ["/a"]}

    def refused(**params: Any) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as caught:
            elb.create_rule(ListenerArn=listener, **params)
        return _error(caught)

    assert refused(Priority=1, Conditions=path, Actions=FIXED)[0] == "PriorityInUse"
    assert refused(Priority=2, Conditions=[{"Field": "cookie", "Values": ["x"]}], Actions=FIXED)[
        1
    ].startswith("Condition field 'cookie' must be one of")
    bad_status = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "302"}}]
    assert refused(Priority=2, Conditions=path, Actions=bad_status)[0] == "ValidationError"
    unknown = (
        "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/none/0123456789abcdef"
    )
    forward = [{"Type": "forward", "TargetGroupArn": unknown}]
    assert refused(Priority=2, Conditions=path, Actions=forward) == (
        "TargetGroupNotFound",
        f"Target group '{unknown}' not found",
        400,
    )
    oidc = [
        {
            "Type": "authenticate-oidc",
            "AuthenticateOidcConfig": {
                "Issuer": "i",
                "AuthorizationEndpoint": "a",
                "TokenEndpoint": "t",
                "UserInfoEndpoint": "u",
                "ClientId": "c",
            },
        }
    ]
    assert refused(Priority=2, Conditions=path, Actions=oidc)[0] == "InvalidLoadBalancerAction"
    rules = elb.describe_rules(ListenerArn=listener)["Rules"]
    assert [r["Priority"] for r in rules] == ["1", "default"]
    default = rules[1]["RuleArn"]
    with pytest.raises(ClientError) as caught:
        elb.delete_rule(RuleArn=default)
    assert _error(caught)[0] == "OperationNotPermitted"
    with pytest.raises(ClientError) as caught:
        elb.set_rule_priorities(
            RulePriorities=[
                {"RuleArn": rule_arn, "Priority": 5},
                {"RuleArn": rule_arn, "Priority": 5},
            ]
        )
    assert _error(caught) == ("ValidationError", "Priority '5' was provided multiple times", 400)
    modified = elb.modify_rule(
        RuleArn=rule_arn, Conditions=[{"Field": "http-request-method", "Values": ["PUT"]}]
    )["Rules"][0]
    assert modified["Conditions"][0]["HttpRequestMethodConfig"] == {"Values": ["PUT"]}
    elb.delete_rule(RuleArn=rule_arn)
    with pytest.raises(ClientError) as caught:
        elb.describe_rules(RuleArns=[rule_arn])
    assert _error(caught)[0] == "RuleNotFound"


def test_a_target_group_in_use_cannot_be_deleted(server: Server, elb: Any, balancer: str) -> None:
    group = lambda_group(server, make_function(server))
    elb.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=free_port(),
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )
    with pytest.raises(ClientError) as caught:
        elb.delete_target_group(TargetGroupArn=group)
    assert _error(caught)[0] == "ResourceInUse"
    described = elb.describe_target_groups(TargetGroupArns=[group])["TargetGroups"][0]
    assert described["LoadBalancerArns"] == [balancer]
    health = elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    assert health[0]["TargetHealth"]["State"] == "unavailable"


def test_tags(elb: Any, balancer: str) -> None:
    elb.add_tags(
        ResourceArns=[balancer], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    )
    elb.remove_tags(ResourceArns=[balancer], TagKeys=["a"])
    tags = elb.describe_tags(ResourceArns=[balancer])["TagDescriptions"][0]["Tags"]
    assert tags == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as caught:
        elb.add_tags(
            ResourceArns=[balancer], Tags=[{"Key": "c", "Value": "1"}, {"Key": "c", "Value": "2"}]
        )
    assert _error(caught) == ("DuplicateTagKeys", "Tag key was specified more than once: c", 400)
    with pytest.raises(ClientError) as caught:
        elb.add_tags(
            ResourceArns=[balancer], Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)]
        )
    assert _error(caught)[0] == "TooManyTags"


def test_unimplemented_operations_say_so(elb: Any) -> None:
    with pytest.raises(ClientError) as caught:
        elb.describe_trust_stores()
    code, message, status = _error(caught)
    assert (code, status) == ("NotImplementedException", 501)
    assert "DescribeTrustStores" in message


# -- accounts --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = Server(
        tmp_path_factory.mktemp("elb-accounts"), env={"FIRESIDE_CREDENTIALS": credentials}
    ).start()
    yield server
    server.stop()


def _as(account: str) -> dict[str, str]:
    return {"aws_access_key_id": account, "aws_secret_access_key": SECRETS[account]}


def test_accounts_are_walls(two_accounts: Server) -> None:
    elb_a = two_accounts.client("elbv2", **_as(A))
    elb_b = two_accounts.client("elbv2", **_as(B))
    lb = elb_a.create_load_balancer(Name="walled")["LoadBalancers"][0]["LoadBalancerArn"]
    group = elb_a.create_target_group(Name="walled", TargetType="lambda")["TargetGroups"][0]
    group_arn = group["TargetGroupArn"]
    assert elb_b.describe_load_balancers()["LoadBalancers"] == []
    assert elb_b.describe_target_groups()["TargetGroups"] == []
    for call, code in (
        (lambda: elb_b.describe_load_balancers(LoadBalancerArns=[lb]), "LoadBalancerNotFound"),
        (lambda: elb_b.describe_target_health(TargetGroupArn=group_arn), "TargetGroupNotFound"),
        (lambda: elb_b.describe_tags(ResourceArns=[lb]), "LoadBalancerNotFound"),
        (
            lambda: elb_b.create_listener(
                LoadBalancerArn=lb, Protocol="HTTP", Port=free_port(), DefaultActions=FIXED
            ),
            "LoadBalancerNotFound",
        ),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught)[0] == code
    elb_b.delete_load_balancer(LoadBalancerArn=lb)  # succeeds, as for any missing one...
    assert elb_a.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"]  # ...a no-op
    # B's function, even with a grant for A's target group, is not A's to register
    function_b = make_function(two_accounts, **_as(B))
    two_accounts.client("lambda", **_as(B)).add_permission(
        FunctionName=function_b,
        StatementId="to-a",
        Action="lambda:InvokeFunction",
        Principal="elasticloadbalancing.amazonaws.com",
        SourceArn=group_arn,
    )
    with pytest.raises(ClientError) as caught:
        elb_a.register_targets(TargetGroupArn=group_arn, Targets=[{"Id": function_b}])
    assert _error(caught)[0] == "InvalidTarget"
    # B cannot register into A's target group, nor forward to it from its own listener
    with pytest.raises(ClientError) as caught:
        elb_b.register_targets(TargetGroupArn=group_arn, Targets=[{"Id": function_b}])
    assert _error(caught)[0] == "TargetGroupNotFound"
    lb_b = elb_b.create_load_balancer(Name="walled")["LoadBalancers"][0]["LoadBalancerArn"]
    assert lb_b != lb  # same name, another account: another load balancer
    with pytest.raises(ClientError) as caught:
        elb_b.create_listener(
            LoadBalancerArn=lb_b,
            Protocol="HTTP",
            Port=free_port(),
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
        )
    assert _error(caught)[0] == "TargetGroupNotFound"


# -- subnets and security groups from EC2 ------------------------------------------------------


def test_subnets_and_groups_are_checked_against_ec2(server: Server, elb: Any) -> None:
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    one = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.0.0/24", AvailabilityZone="us-east-1a")
    two = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="us-east-1b")
    same = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24", AvailabilityZone="us-east-1a")
    a, b = one["Subnet"]["SubnetId"], two["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    for kwargs, code, message in (
        ({"Subnets": ["subnet-0123456789abcdef0", b]}, "SubnetNotFound", None),
        (
            {"Subnets": [a]},
            "ValidationError",
            "At least two subnets in two different Availability Zones must be specified",
        ),
        ({"Subnets": [a, same["Subnet"]["SubnetId"]]}, "InvalidConfigurationRequest", None),
        (
            {"Subnets": [a, b], "SecurityGroups": ["sg-0123456789abcdef0"]},
            "InvalidSecurityGroup",
            None,
        ),
    ):
        with pytest.raises(ClientError) as caught:
            elb.create_load_balancer(Name=_name("placed"), **kwargs)
        got = _error(caught)
        assert got[0] == code, got
        if message is not None:
            assert got[1] == message
    made = elb.create_load_balancer(
        Name=_name("placed"),
        SubnetMappings=[{"SubnetId": a}, {"SubnetId": b}],
        SecurityGroups=[group],
    )["LoadBalancers"][0]
    assert made["VpcId"] == vpc
    assert [(z["ZoneName"], z["SubnetId"]) for z in made["AvailabilityZones"]] == [
        ("us-east-1a", a),
        ("us-east-1b", b),
    ]
    assert made["SecurityGroups"] == [group]
    described = elb.describe_load_balancers(LoadBalancerArns=[made["LoadBalancerArn"]])
    assert described["LoadBalancers"][0]["VpcId"] == vpc
    with pytest.raises(ClientError) as caught:
        elb.create_target_group(
            Name=_name("tg"), Protocol="HTTP", Port=80, VpcId="vpc-0123456789abcdef0"
        )
    assert _error(caught)[0] == "ValidationError"
    made_group = elb.create_target_group(Name=_name("tg"), Protocol="HTTP", Port=80, VpcId=vpc)
    assert made_group["TargetGroups"][0]["VpcId"] == vpc
    elb.delete_load_balancer(LoadBalancerArn=made["LoadBalancerArn"])


def test_another_accounts_subnets_cannot_be_used(two_accounts: Server) -> None:
    ec2_a = two_accounts.client("ec2", **_as(A))
    subnets = [
        s["SubnetId"]
        for s in ec2_a.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
            "Subnets"
        ]
    ][:2]
    elb_b = two_accounts.client("elbv2", **_as(B))
    with pytest.raises(ClientError) as caught:
        elb_b.create_load_balancer(Name="borrowed", Subnets=subnets)
    assert _error(caught)[0] == "SubnetNotFound"
    elb_a = two_accounts.client("elbv2", **_as(A))
    mine = elb_a.create_load_balancer(Name="owned", Subnets=subnets)["LoadBalancers"][0]
    assert {z["SubnetId"] for z in mine["AvailabilityZones"]} == set(subnets)


def test_set_subnets_and_security_groups(server: Server, elb: Any) -> None:
    ec2 = server.client("ec2")
    subnets = _default_subnets(server)
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    group = ec2.create_security_group(
        GroupName=_name("lbsg"), Description="lb", VpcId=default_vpc[0]["VpcId"]
    )["GroupId"]
    arn = elb.create_load_balancer(Name=_name("moved"))["LoadBalancers"][0]["LoadBalancerArn"]
    zones = elb.set_subnets(LoadBalancerArn=arn, Subnets=subnets)["AvailabilityZones"]
    assert sorted(z["SubnetId"] for z in zones) == sorted(subnets)
    lb = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    assert lb["VpcId"] == default_vpc[0]["VpcId"]
    with pytest.raises(ClientError) as caught:
        elb.set_subnets(LoadBalancerArn=arn, Subnets=subnets[:1])
    assert _error(caught)[0] == "ValidationError"
    assert elb.set_security_groups(LoadBalancerArn=arn, SecurityGroups=[group])[
        "SecurityGroupIds"
    ] == [group]
    with pytest.raises(ClientError) as caught:
        elb.set_security_groups(LoadBalancerArn=arn, SecurityGroups=["sg-0123456789abcdef0"])
    assert _error(caught)[0] == "InvalidSecurityGroup"
    elb.delete_load_balancer(LoadBalancerArn=arn)
    ec2.delete_security_group(GroupId=group)
