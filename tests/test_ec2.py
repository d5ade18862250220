"""EC2's networking control plane with boto3 against a live server: zones, the default VPC,
VPCs, subnets, security groups, gateways, route tables, addresses, tags and filters, AWS's
errors for bad input, and accounts as walls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

A = "111111111111"
B = "222222222222"
SECRETS = {A: "secret-of-a", B: "secret-of-b"}


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: dict[str, Any] = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def _fails(call: Any, code: str, message: str | None = None) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    got_code, got_message, status = _error(caught)
    assert got_code == code, caught.value.response
    assert status == 400
    if message is not None:
        assert got_message == message
    return got_message


@pytest.fixture()
def ec2(server: Server) -> Any:
    return server.client("ec2")


def _vpc(ec2: Any, cidr: str = "10.0.0.0/16", **kwargs: Any) -> str:
    vpc_id: str = ec2.create_vpc(CidrBlock=cidr, **kwargs)["Vpc"]["VpcId"]
    return vpc_id


def test_zones_regions_and_account_attributes(ec2: Any) -> None:
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == [f"us-east-1{c}" for c in "abcdef"]
    assert zones[0]["ZoneId"] == "use1-az1" and zones[0]["State"] == "available"
    one = ec2.describe_availability_zones(Filters=[{"Name": "zone-name", "Values": ["*b"]}])
    assert [z["ZoneName"] for z in one["AvailabilityZones"]] == ["us-east-1b"]
    regions = {r["RegionName"] for r in ec2.describe_regions()["Regions"]}
    assert {"us-east-1", "eu-west-1"} <= regions
    attributes = {
        a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
        for a in ec2.describe_account_attributes()["AccountAttributes"]
    }
    assert attributes["supported-platforms"] == ["VPC"]
    assert attributes["default-vpc"][0].startswith("vpc-")


def test_the_default_vpc_has_subnets_per_zone_a_gateway_and_a_group(ec2: Any) -> None:
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(default) == 1 and default[0]["CidrBlock"] == "172.31.0.0/16"
    vpc_id = default[0]["VpcId"]
    assert len(vpc_id) == len("vpc-") + 17
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    assert sorted(s["AvailabilityZone"] for s in subnets["Subnets"]) == [
        f"us-east-1{c}" for c in "abcdef"
    ]
    assert all(s["MapPublicIpOnLaunch"] and s["VpcId"] == vpc_id for s in subnets["Subnets"])
    gateways = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    )["InternetGateways"]
    assert len(gateways) == 1
    groups = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert groups[0]["VpcId"] == vpc_id


def test_vpcs_subnets_and_their_errors(ec2: Any) -> None:
    vpc_id = _vpc(
        ec2,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "main"}]}],
    )
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.0.0.0/16" and not vpc["IsDefault"]
    assert vpc["Tags"] == [{"Key": "Name", "Value": "main"}]
    named = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["main"]}])["Vpcs"]
    assert vpc_id in [v["VpcId"] for v in named]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1b")
    subnet_id = subnet["Subnet"]["SubnetId"]
    assert subnet["Subnet"]["AvailableIpAddressCount"] == 251
    _fails(
        lambda: ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.128/25"),
        "InvalidSubnet.Conflict",
        "The CIDR '10.0.1.128/25' conflicts with another subnet",
    )
    _fails(
        lambda: ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.0.0/24"),
        "InvalidSubnet.Range",
        "The CIDR '10.1.0.0/24' is invalid.",
    )
    _fails(lambda: ec2.create_vpc(CidrBlock="10.0.0.0/8"), "InvalidVpc.Range")
    _fails(lambda: ec2.create_vpc(CidrBlock="10.0.0.300/16"), "InvalidParameterValue")
    # host bits are dropped, as AWS drops them
    canonical = ec2.create_vpc(CidrBlock="10.5.6.7/16")["Vpc"]
    assert canonical["CidrBlock"] == "10.5.0.0/16"
    ec2.delete_vpc(VpcId=canonical["VpcId"])
    _fails(
        lambda: ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.2.0/24", AvailabilityZone="x-1z"),
        "InvalidParameterValue",
    )
    _fails(
        lambda: ec2.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"]),
        "InvalidVpcID.NotFound",
        "The vpc ID 'vpc-0123456789abcdef0' does not exist",
    )
    _fails(
        lambda: ec2.describe_subnets(Filters=[{"Name": "no-such-filter", "Values": ["x"]}]),
        "InvalidParameterValue",
    )
    ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    found = ec2.describe_subnets(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "availability-zone", "Values": ["us-east-1b"]},
        ]
    )["Subnets"]
    assert [(s["SubnetId"], s["MapPublicIpOnLaunch"]) for s in found] == [(subnet_id, True)]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert hostnames["EnableDnsHostnames"] == {"Value": True}
    _fails(
        lambda: ec2.delete_vpc(VpcId=vpc_id),
        "DependencyViolation",
        f"The vpc '{vpc_id}' has dependencies and cannot be deleted.",
    )
    # a secondary block takes subnets too, and goes once they have gone
    extra = ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="10.1.0.0/16")
    assert extra["CidrBlockAssociation"]["CidrBlockState"]["State"] == "associating"
    second = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.0.0/24")["Subnet"]["SubnetId"]
    association = extra["CidrBlockAssociation"]["AssociationId"]
    _fails(
        lambda: ec2.disassociate_vpc_cidr_block(AssociationId=association), "DependencyViolation"
    )
    ec2.delete_subnet(SubnetId=second)
    ec2.disassociate_vpc_cidr_block(AssociationId=association)
    ec2.delete_subnet(SubnetId=subnet_id)
    ec2.delete_vpc(VpcId=vpc_id)
    _fails(lambda: ec2.describe_vpcs(VpcIds=[vpc_id]), "InvalidVpcID.NotFound")


def test_security_groups_and_their_rules(ec2: Any) -> None:
    vpc_id = _vpc(ec2, "10.9.0.0/16")
    group_id = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc_id)[
        "GroupId"
    ]
    _fails(
        lambda: ec2.create_security_group(GroupName="web", Description="again", VpcId=vpc_id),
        "InvalidGroup.Duplicate",
        f"The security group 'web' already exists for VPC '{vpc_id}'",
    )
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    added = ec2.authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=[{**https, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    assert added["Return"] and added["SecurityGroupRules"][0]["SecurityGroupRuleId"].startswith(
        "sgr-"
    )
    _fails(
        lambda: ec2.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=[{**https, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        ),
        "InvalidPermission.Duplicate",
    )
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert group["IpPermissions"] == [
        {
            **https,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
            "UserIdGroupPairs": [],
        }
    ]
    assert group["IpPermissionsEgress"][0]["IpProtocol"] == "-1"
    by_name = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["web"]}, {"Name": "vpc-id", "Values": [vpc_id]}]
    )["SecurityGroups"]
    assert [g["GroupId"] for g in by_name] == [group_id]
    ec2.revoke_security_group_ingress(
        GroupId=group_id, IpPermissions=[{**https, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    _fails(
        lambda: ec2.revoke_security_group_ingress(
            GroupId=group_id, IpPermissions=[{**https, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        ),
        "InvalidPermission.NotFound",
    )
    ec2.revoke_security_group_egress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    assert (
        ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0][
            "IpPermissionsEgress"
        ]
        == []
    )
    default = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]
    _fails(lambda: ec2.delete_security_group(GroupId=default["GroupId"]), "CannotDelete")
    ec2.delete_security_group(GroupId=group_id)
    _fails(lambda: ec2.describe_security_groups(GroupIds=[group_id]), "InvalidGroup.NotFound")
    ec2.delete_vpc(VpcId=vpc_id)


def test_gateways_routes_addresses_and_nat(ec2: Any) -> None:
    vpc_id = _vpc(ec2, "10.7.0.0/16")
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.7.0.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    _fails(
        lambda: ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id),
        "Resource.AlreadyAssociated",
    )
    _fails(lambda: ec2.delete_internet_gateway(InternetGatewayId=igw), "DependencyViolation")
    main = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    assert len(main) == 1 and main[0]["Routes"][0]["GatewayId"] == "local"
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    _fails(
        lambda: ec2.create_route(
            RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
        ),
        "RouteAlreadyExists",
    )
    association = ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)["AssociationId"]
    _fails(lambda: ec2.delete_route_table(RouteTableId=table), "DependencyViolation")
    described = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
    )["RouteTables"]
    assert [t["RouteTableId"] for t in described] == [table]
    assert {r["DestinationCidrBlock"] for r in described[0]["Routes"]} == {
        "10.7.0.0/16",
        "0.0.0.0/0",
    }
    allocation = ec2.allocate_address(Domain="vpc")
    assert allocation["AllocationId"].startswith("eipalloc-")
    nat = ec2.create_nat_gateway(SubnetId=subnet_id, AllocationId=allocation["AllocationId"])
    nat_id = nat["NatGateway"]["NatGatewayId"]
    assert nat["NatGateway"]["NatGatewayAddresses"][0]["PublicIp"] == allocation["PublicIp"]
    ec2.get_waiter("nat_gateway_available").wait(NatGatewayIds=[nat_id])
    _fails(
        lambda: ec2.release_address(AllocationId=allocation["AllocationId"]),
        "InvalidIPAddress.InUse",
    )
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.50.0.0/16", NatGatewayId=nat_id)
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock="10.50.0.0/16")
    _fails(
        lambda: ec2.delete_route(RouteTableId=table, DestinationCidrBlock="10.50.0.0/16"),
        "InvalidRoute.NotFound",
    )
    ec2.delete_nat_gateway(NatGatewayId=nat_id)
    states = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"]
    assert states[0]["State"] == "deleted"
    ec2.release_address(AllocationId=allocation["AllocationId"])
    ec2.disassociate_route_table(AssociationId=association)
    ec2.delete_route_table(RouteTableId=table)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    _fails(
        lambda: ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id),
        "Gateway.NotAttached",
    )
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    ec2.delete_subnet(SubnetId=subnet_id)
    ec2.delete_vpc(VpcId=vpc_id)


def test_tags_and_describe_tags(ec2: Any) -> None:
    vpc_id = _vpc(ec2, "10.8.0.0/16")
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "env", "Value": "dev"}])
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["Tags"]
    assert tags == [{"Key": "env", "Value": "dev", "ResourceId": vpc_id, "ResourceType": "vpc"}]
    assert vpc_id in [
        v["VpcId"]
        for v in ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": ["env"]}])["Vpcs"]
    ]
    ec2.delete_tags(Resources=[vpc_id], Tags=[{"Key": "env"}])
    assert "Tags" not in ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    _fails(
        lambda: ec2.create_tags(Resources=["bogus-1"], Tags=[{"Key": "a", "Value": "b"}]),
        "InvalidID",
    )
    # control characters could not travel back in an XML answer: refused, as AWS does
    _fails(
        lambda: ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "a", "Value": "b\x1f"}]),
        "InvalidParameterValue",
    )
    ec2.delete_vpc(VpcId=vpc_id)


def test_dry_run_and_unimplemented_operations(ec2: Any) -> None:
    with pytest.raises(ClientError) as caught:
        ec2.create_vpc(CidrBlock="10.0.0.0/16", DryRun=True)
    assert _error(caught)[:3:2] == ("DryRunOperation", 412)
    with pytest.raises(ClientError) as caught:
        ec2.describe_instances()
    code, message, status = _error(caught)
    assert (code, status) == ("NotImplementedException", 501)
    assert "DescribeInstances" in message


def test_missing_parameters_get_ec2s_error(server: Server) -> None:
    unchecked = server.client("ec2", parameter_validation=False)
    _fails(
        lambda: unchecked.create_vpc(),
        "MissingParameter",
        "The request must contain the parameter CidrBlock",
    )
    # a member EC2's model requires, refused by the protocol layer in EC2's words
    _fails(
        lambda: unchecked.delete_vpc(),
        "MissingParameter",
        "The request must contain the parameter VpcId",
    )


# -- accounts and durability ------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = Server(
        tmp_path_factory.mktemp("ec2-accounts"), env={"FIRESIDE_CREDENTIALS": credentials}
    ).start()
    yield server
    server.stop()


def _as(account: str) -> dict[str, str]:
    return {"aws_access_key_id": account, "aws_secret_access_key": SECRETS[account]}


def test_accounts_are_walls(two_accounts: Server) -> None:
    ec2_a = two_accounts.client("ec2", **_as(A))
    ec2_b = two_accounts.client("ec2", **_as(B))
    vpc_id = _vpc(ec2_a, "10.3.0.0/16")
    subnet_id = ec2_a.create_subnet(VpcId=vpc_id, CidrBlock="10.3.1.0/24")["Subnet"]["SubnetId"]
    group_id = ec2_a.create_security_group(GroupName="g", Description="g", VpcId=vpc_id)["GroupId"]
    assert vpc_id not in [v["VpcId"] for v in ec2_b.describe_vpcs()["Vpcs"]]
    assert subnet_id not in [s["SubnetId"] for s in ec2_b.describe_subnets()["Subnets"]]
    default_a = ec2_a.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    default_b = ec2_b.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert default_a[0]["VpcId"] != default_b[0]["VpcId"]
    for call, code in (
        (lambda: ec2_b.describe_vpcs(VpcIds=[vpc_id]), "InvalidVpcID.NotFound"),
        (
            lambda: ec2_b.create_subnet(VpcId=vpc_id, CidrBlock="10.3.2.0/24"),
            "InvalidVpcID.NotFound",
        ),
        (lambda: ec2_b.delete_subnet(SubnetId=subnet_id), "InvalidSubnetID.NotFound"),
        (
            lambda: ec2_b.create_tags(Resources=[vpc_id], Tags=[{"Key": "a", "Value": "b"}]),
            "InvalidVpcID.NotFound",
        ),
        (lambda: ec2_b.delete_security_group(GroupId=group_id), "InvalidGroup.NotFound"),
    ):
        _fails(call, code)
    # another region of the same account is another set of records
    ec2_a_west = two_accounts.client("ec2", region_name="us-west-2", **_as(A))
    _fails(lambda: ec2_a_west.describe_vpcs(VpcIds=[vpc_id]), "InvalidVpcID.NotFound")


def test_records_survive_a_restart(fresh_server: Any) -> None:
    server = fresh_server()
    ec2 = server.client("ec2")
    vpc_id = _vpc(ec2, "10.4.0.0/16")
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.4.0.0/24")["Subnet"]["SubnetId"]
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    server.stop(9)
    server.start()
    ec2 = server.client("ec2")
    assert ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"] == vpc_id
    again = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert again == default
