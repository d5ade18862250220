"""Event invoke configuration API: Put/Update/Get/Delete/ListFunctionEventInvokeConfigs.

Expected messages are AWS's, as recorded in LocalStack's AWS-validated snapshots
(test_lambda_api.snapshot.json, TestLambdaEventInvokeConfig).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FunctionFactory, Server

SOURCE = "def handler(e, c):\n    return e\n"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
NO_SETTING = "You must specify at least one of error handling or destination setting."
NO_FUNCTION = "The function doesn't exist."
EMPTY = {"OnSuccess": {}, "OnFailure": {}}


def error(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def shown(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration without response metadata and LastModified (checked separately)."""
    assert isinstance(config["LastModified"], datetime.datetime)
    return {k: v for k, v in config.items() if k not in ("ResponseMetadata", "LastModified")}


def no_config(arn: str) -> tuple[str, str, int]:
    return (
        "ResourceNotFoundException",
        f"The function {arn} doesn't have an EventInvokeConfig",
        404,
    )


@pytest.fixture()
def raw(server: Server) -> Any:
    """A client that leaves validation to the server, as AWS's snapshots were recorded."""
    return server.client(parameter_validation=False)


def test_lifecycle_put_replaces_update_merges(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert shown(put) == {
        "FunctionArn": f"{ARN}{name}:$LATEST",
        "MaximumRetryAttempts": 0,
        "DestinationConfig": EMPTY,
    }
    # A Put replaces everything; an unset value is not shown (Lambda's default applies).
    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in put and put["MaximumEventAgeInSeconds"] == 60
    updated = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert shown(updated) == {
        "FunctionArn": f"{ARN}{name}:$LATEST",
        "MaximumRetryAttempts": 1,
        "MaximumEventAgeInSeconds": 60,
        "DestinationConfig": EMPTY,
    }
    assert updated["LastModified"] >= put["LastModified"]
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert shown(got) == shown(updated)
    assert shown(lam.get_function_event_invoke_config(FunctionName=name, Qualifier="$LATEST")) == (
        shown(updated)
    )
    listed = lam.list_function_event_invoke_configs(FunctionName=name)
    assert [shown(c) for c in listed["FunctionEventInvokeConfigs"]] == [shown(updated)]
    assert "NextMarker" not in listed


def test_versions_aliases_and_paging(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    assert error(
        lam.get_function_event_invoke_config, FunctionName=name, Qualifier="1"
    ) == no_config(f"{ARN}{name}:1")
    version = lam.put_function_event_invoke_config(
        FunctionName=name, Qualifier="1", MaximumEventAgeInSeconds=120
    )
    assert version["FunctionArn"] == f"{ARN}{name}:1"
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    # The alias by ARN, by `name:alias` and by Qualifier: one configuration.
    for kwargs in (
        {"FunctionName": alias["AliasArn"]},
        {"FunctionName": f"{name}:live"},
        {"FunctionName": name, "Qualifier": "live"},
        {"FunctionName": alias["AliasArn"], "Qualifier": "live"},
    ):
        out = lam.put_function_event_invoke_config(MaximumRetryAttempts=1, **kwargs)
        assert out["FunctionArn"] == f"{ARN}{name}:live"
    assert shown(
        lam.put_function_event_invoke_config(FunctionName=f"{name}:1", MaximumRetryAttempts=2)
    ) == {
        "FunctionArn": f"{ARN}{name}:1",
        "MaximumRetryAttempts": 2,
        "DestinationConfig": EMPTY,
    }
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [
        f"{ARN}{name}:$LATEST",
        f"{ARN}{name}:1",
        f"{ARN}{name}:live",
    ]
    first = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=2)
    assert len(first["FunctionEventInvokeConfigs"]) == 2 and first["NextMarker"]
    rest = lam.list_function_event_invoke_configs(FunctionName=name, Marker=first["NextMarker"])
    assert [c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]] == [f"{ARN}{name}:live"]
    assert "NextMarker" not in rest
    for qualifier in ("$LATEST", "1", "live"):
        deleted = lam.delete_function_event_invoke_config(FunctionName=name, Qualifier=qualifier)
        assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert (
        lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        == []
    )
    assert error(lam.delete_function_event_invoke_config, FunctionName=name) == no_config(
        f"{ARN}{name}:$LATEST"
    )
    assert error(lam.get_function_event_invoke_config, FunctionName=alias["AliasArn"]) == (
        no_config(f"{ARN}{name}:live")
    )


def test_function_and_qualifier_errors(raw: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    raw.publish_version(FunctionName=name)
    missing = ("ResourceNotFoundException", NO_FUNCTION, 404)
    put, update = raw.put_function_event_invoke_config, raw.update_function_event_invoke_config
    assert error(put, FunctionName="doesnotexist") == (
        "InvalidParameterValueException", NO_SETTING, 400,
    )  # fmt: skip
    assert error(update, FunctionName=name) == ("InvalidParameterValueException", NO_SETTING, 400)
    assert error(put, FunctionName="doesnotexist", MaximumRetryAttempts=1) == missing
    assert error(put, FunctionName=f"{ARN}doesnotexist", MaximumRetryAttempts=1) == missing
    assert error(put, FunctionName=name, Qualifier="nosuchalias", MaximumRetryAttempts=1) == missing
    assert error(put, FunctionName=name, Qualifier="7", MaximumRetryAttempts=1) == missing
    assert error(update, FunctionName="doesnotexist", MaximumRetryAttempts=0) == missing
    assert error(raw.list_function_event_invoke_configs, FunctionName="doesnotexist") == missing
    mismatch = (
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
        400,
    )
    for function, qualifier in ((f"{name}:1", "$LATEST"), (f"{name}:$LATEST", "1")):
        assert error(put, FunctionName=function, Qualifier=qualifier, MaximumRetryAttempts=1) == (
            mismatch
        )
    # Get, Delete and Update of a configuration that does not exist name the qualified ARN.
    assert error(raw.get_function_event_invoke_config, FunctionName="doesnotexist") == no_config(
        f"{ARN}doesnotexist:$LATEST"
    )
    assert error(raw.delete_function_event_invoke_config, FunctionName="doesnotexist") == (
        no_config(f"{ARN}doesnotexist:$LATEST")
    )
    assert error(
        raw.get_function_event_invoke_config, FunctionName=name, Qualifier="doesnotexist"
    ) == no_config(f"{ARN}{name}:doesnotexist")
    assert error(update, FunctionName=name, MaximumRetryAttempts=0) == no_config(
        f"{ARN}{name}:$LATEST"
    )


def test_value_ranges(raw: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    put = raw.put_function_event_invoke_config
    for member, value, bound in (
        ("MaximumRetryAttempts", 3, "less than or equal to 2"),
        ("MaximumRetryAttempts", -1, "greater than or equal to 0"),
        ("MaximumEventAgeInSeconds", 59, "greater than or equal to 60"),
        ("MaximumEventAgeInSeconds", 21601, "less than or equal to 21600"),
    ):
        camel = member[0].lower() + member[1:]
        assert error(put, FunctionName=name, **{member: value}) == (
            "ValidationException",
            f"1 validation error detected: Value '{value}' at '{camel}' failed to satisfy "
            f"constraint: Member must have value {bound}",
            400,
        )
    limits = put(FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=21600)
    assert (limits["MaximumRetryAttempts"], limits["MaximumEventAgeInSeconds"]) == (2, 21600)


def test_destinations(raw: Any, make_function: FunctionFactory) -> None:
    name, other = make_function(SOURCE), make_function(SOURCE)
    put, update = raw.put_function_event_invoke_config, raw.update_function_event_invoke_config
    arn, other_arn = f"{ARN}{name}", f"{ARN}{other}"

    def destination(on_success: str | None = None, on_failure: str | None = None) -> Any:
        config: dict[str, Any] = {}
        if on_success is not None:
            config["OnSuccess"] = {"Destination": on_success}
        if on_failure is not None:
            config["OnFailure"] = {"Destination": on_failure}
        return put(FunctionName=name, DestinationConfig=config)

    assert error(destination, f"{ARN}doesnotexist") == (
        "InvalidParameterValueException",
        f"The destination ARN {ARN}doesnotexist is invalid.",
        400,
    )
    assert error(destination, None, f"{other_arn}:nosuchalias") == (
        "InvalidParameterValueException",
        f"The destination ARN {other_arn}:nosuchalias is invalid.",
        400,
    )
    assert error(destination, arn) == (
        "InvalidParameterValueException",
        "You can't specify the function as a destination for itself.",
        400,
    )
    iam = arn.replace(":lambda:", ":iam:")
    assert error(destination, iam) == (
        "InvalidParameterValueException",
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
        f"{iam}), onFailure=null) is invalid.",
        400,
    )
    bad = arn.replace(":lambda:", ":_-/!lambda:")
    assert error(destination, None, bad) == (
        "ValidationException",
        f"1 validation error detected: Value '{bad}' at 'destinationConfig.onFailure.destination' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "$|kafka://([^.]([a-zA-Z0-9\\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:"
        "((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)",
        400,
    )
    # An S3 bucket is a destination for failures only; AWS calls it invalid as OnSuccess.
    bucket = "arn:aws:s3:::some-records-bucket"
    on_failure = destination(None, bucket)
    assert on_failure["DestinationConfig"] == {
        "OnSuccess": {},
        "OnFailure": {"Destination": bucket},
    }
    assert error(destination, bucket) == (
        "InvalidParameterValueException",
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
        f"{bucket}), onFailure=null) is invalid.",
        400,
    )
    assert error(destination, bucket, bucket)[1] == (
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
        f"{bucket}), onFailure=OnFailure(destination={bucket})) is invalid."
    )
    for not_a_bucket in (f"{bucket}/records", "arn:aws:s3:::Bad_Name"):
        assert error(destination, None, not_a_bucket) == (
            "InvalidParameterValueException",
            f"The destination ARN {not_a_bucket} is invalid.",
            400,
        )
    # Queues, topics and buses are taken as given (their policies decide at delivery);
    # an ARN of theirs that names no queue, topic or bus is not.
    for target in (
        "arn:aws:sqs:us-east-1:000000000000:somewhere",
        "arn:aws:sns:us-east-1:000000000000:somewhere",
        "arn:aws:events:us-east-1:000000000000:event-bus/somewhere",
    ):
        assert destination(target, target)["DestinationConfig"] == {
            "OnSuccess": {"Destination": target},
            "OnFailure": {"Destination": target},
        }
    bad = "arn:aws:events:us-east-1:000000000000:rule/somewhere"
    assert error(destination, bad, None) == (
        "InvalidParameterValueException",
        f"The destination ARN {bad} is invalid.",
        400,
    )
    empty = put(FunctionName=name, DestinationConfig={"OnSuccess": {}})
    assert empty["DestinationConfig"] == EMPTY
    both = destination(other_arn, f"{other_arn}:$LATEST")
    assert both["DestinationConfig"] == {
        "OnSuccess": {"Destination": other_arn},
        "OnFailure": {"Destination": f"{other_arn}:$LATEST"},
    }
    # Update changes only what it is given: a side of DestinationConfig left out is kept.
    kept = update(FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={"OnSuccess": {}})
    assert kept["DestinationConfig"] == {
        "OnSuccess": {},
        "OnFailure": {"Destination": f"{other_arn}:$LATEST"},
    }
    assert kept["MaximumRetryAttempts"] == 1
    assert error(
        update, FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}}
    ) == (
        "InvalidParameterValueException",
        "You can't specify the function as a destination for itself.",
        400,
    )


def test_configurations_go_with_what_they_configure(
    lam: Any, make_function: FunctionFactory
) -> None:
    name = make_function(SOURCE)
    lam.publish_version(FunctionName=name)
    lam.publish_version(FunctionName=name)  # unchanged: still version 1
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    for qualifier in ("$LATEST", "1", "live"):
        lam.put_function_event_invoke_config(
            FunctionName=name, Qualifier=qualifier, MaximumRetryAttempts=0
        )
    lam.delete_alias(FunctionName=name, Name="live")
    assert error(lam.get_function_event_invoke_config, FunctionName=name, Qualifier="live") == (
        no_config(f"{ARN}{name}:live")
    )
    lam.delete_function(FunctionName=name, Qualifier="1")
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{ARN}{name}:$LATEST"]
    lam.delete_function(FunctionName=name)
    make_function(SOURCE, FunctionName=name)  # the same name again: nothing inherited
    assert (
        lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        == []
    )
