"""SNS resource providers: AWS::SNS::Topic, AWS::SNS::Subscription and
AWS::SNS::TopicPolicy, through SNS's own operations as the stack's account.

A topic's Ref is its ARN (`Fn::GetAtt` TopicArn, TopicName); a subscription's is its ARN.
TopicName and FifoTopic replace a topic; a subscription's TopicArn, Protocol and Endpoint
replace it. Removing a topic policy puts back the topic's default policy, as on AWS.
"""

from __future__ import annotations

from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.sqs import attribute_text, failed
from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceType

__all__ = ["providers"]

_MAX_NAME: Final = 256
_TOPIC_ATTRIBUTES: Final = (
    "DisplayName",
    "KmsMasterKeyId",
    "ContentBasedDeduplication",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
)
_SUBSCRIPTION_ATTRIBUTES: Final = (
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "DeliveryPolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
)


def _is_true(value: Any) -> bool:
    return str(value).lower() == "true"


class Topic:
    type_name = "AWS::SNS::Topic"
    replace_on = frozenset({"TopicName", "FifoTopic"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        fifo = _is_true(properties.get("FifoTopic", False))
        name = properties.get("TopicName")
        if name is None:
            name = ctx.generated_name[: _MAX_NAME - (5 if fifo else 0)] + (".fifo" if fifo else "")
        attributes: dict[str, str] = {
            k: attribute_text(properties[k]) for k in _TOPIC_ATTRIBUTES if k in properties
        }
        if fifo:
            attributes["FifoTopic"] = "true"
        tags = {
            **ctx.tags,
            **{str(t["Key"]): str(t["Value"]) for t in properties.get("Tags") or []},
        }
        params: dict[str, Any] = {"Name": str(name), "Attributes": attributes}
        if tags:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        try:
            arn = (await ctx.call("sns", "CreateTopic", params))["TopicArn"]
            for subscription in properties.get("Subscription") or []:
                await ctx.call(
                    "sns",
                    "Subscribe",
                    {
                        "TopicArn": arn,
                        "Protocol": str(subscription["Protocol"]),
                        "Endpoint": str(subscription["Endpoint"]),
                    },
                )
        except ServiceError as error:
            raise failed(error) from None
        return Created(arn, {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        try:
            for key in _TOPIC_ATTRIBUTES:
                if old.get(key) != new.get(key):
                    await ctx.call(
                        "sns",
                        "SetTopicAttributes",
                        {
                            "TopicArn": physical_id,
                            "AttributeName": key,
                            "AttributeValue": attribute_text(new.get(key, "")),
                        },
                    )
            before = {(s["Protocol"], s["Endpoint"]) for s in old.get("Subscription") or []}
            after = {(s["Protocol"], s["Endpoint"]) for s in new.get("Subscription") or []}
            for protocol, endpoint in after - before:
                await ctx.call(
                    "sns",
                    "Subscribe",
                    {"TopicArn": physical_id, "Protocol": protocol, "Endpoint": endpoint},
                )
            if before - after:
                listed = await ctx.call(
                    "sns", "ListSubscriptionsByTopic", {"TopicArn": physical_id}
                )
                for found in listed.get("Subscriptions", []):
                    if (found["Protocol"], found["Endpoint"]) in before - after:
                        await ctx.call(
                            "sns", "Unsubscribe", {"SubscriptionArn": found["SubscriptionArn"]}
                        )
        except ServiceError as error:
            raise failed(error) from None
        return Created(
            physical_id, {"TopicArn": physical_id, "TopicName": physical_id.rsplit(":", 1)[1]}
        )

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        try:
            await ctx.call("sns", "DeleteTopic", {"TopicArn": physical_id})
        except ServiceError as error:
            if error.code not in ("NotFound", "NotFoundException"):
                raise failed(error) from None


class Subscription:
    type_name = "AWS::SNS::Subscription"
    replace_on = frozenset({"TopicArn", "Protocol", "Endpoint", "Region"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        attributes = {
            k: attribute_text(properties[k]) for k in _SUBSCRIPTION_ATTRIBUTES if k in properties
        }
        params: dict[str, Any] = {
            "TopicArn": str(properties.get("TopicArn", "")),
            "Protocol": str(properties.get("Protocol", "")),
            "ReturnSubscriptionArn": True,
        }
        if "Endpoint" in properties:
            params["Endpoint"] = str(properties["Endpoint"])
        if attributes:
            params["Attributes"] = attributes
        try:
            arn = (await ctx.call("sns", "Subscribe", params))["SubscriptionArn"]
        except ServiceError as error:
            raise failed(error) from None
        return Created(arn, {"Arn": arn})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        try:
            for key in _SUBSCRIPTION_ATTRIBUTES:
                if old.get(key) != new.get(key):
                    await ctx.call(
                        "sns",
                        "SetSubscriptionAttributes",
                        {
                            "SubscriptionArn": physical_id,
                            "AttributeName": key,
                            "AttributeValue": attribute_text(new.get(key, "")),
                        },
                    )
        except ServiceError as error:
            raise failed(error) from None
        return Created(physical_id, {"Arn": physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        if not physical_id.startswith("arn:"):
            return  # a subscription still pending confirmation has no ARN to remove
        try:
            await ctx.call("sns", "Unsubscribe", {"SubscriptionArn": physical_id})
        except ServiceError as error:
            if error.code not in ("NotFound", "NotFoundException"):
                raise failed(error) from None


class TopicPolicy:
    type_name = "AWS::SNS::TopicPolicy"
    replace_on: frozenset[str] = frozenset()

    async def _apply(self, ctx: ResourceContext, topics: list[str], policy: str) -> None:
        for arn in topics:
            await ctx.call(
                "sns",
                "SetTopicAttributes",
                {"TopicArn": arn, "AttributeName": "Policy", "AttributeValue": policy},
            )

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        try:
            await self._apply(
                ctx,
                [str(t) for t in properties.get("Topics") or []],
                attribute_text(properties.get("PolicyDocument", {})),
            )
        except ServiceError as error:
            raise failed(error) from None
        return Created(ctx.generated_name, {"Id": ctx.generated_name})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        kept = [str(t) for t in new.get("Topics") or []]
        try:
            await self._apply(ctx, [t for t in old.get("Topics") or [] if t not in kept], "")
            await self._apply(ctx, kept, attribute_text(new.get("PolicyDocument", {})))
        except ServiceError as error:
            raise failed(error) from None
        return Created(physical_id, {"Id": physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        for arn in properties.get("Topics") or []:
            try:
                await self._apply(ctx, [str(arn)], "")  # back to the default policy
            except ServiceError as error:
                if error.code not in ("NotFound", "NotFoundException"):
                    raise failed(error) from None


def providers() -> list[ResourceType]:
    return [Topic(), Subscription(), TopicPolicy()]
