"""SNS topics as targets of other services (`fireside.targets`): an EventBridge rule, a
schedule or a Lambda destination publishing to a topic.

The topic's owner check is its `Policy` for `sns:Publish`: an AWS service acting for a
resource (`events.amazonaws.com` for a rule) needs a statement naming it (with the
resource's ARN as `aws:SourceArn` where the statement asks), in the topic's own account too,
as AWS requires; the topic's own account acting through its role is always allowed; another
account needs a grant. An accepted delivery is a Publish (delivered to the topic's
subscriptions before `accept_many` returns).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fireside.aws.errors import ServiceError
from fireside.resource_policy import allows, statements_of
from fireside.sns.topics import Topic
from fireside.targets import Accepted, Delivery, Outcome, Refused, Sender

if TYPE_CHECKING:
    from fireside.sns.provider import SnsProvider

__all__ = ["TopicTargets", "may_publish"]


def may_publish(topic: Topic, sender: Sender) -> bool:
    """Whether `sender` may publish to `topic`, as its policy decides."""
    if sender.service is None and sender.account == topic.account:
        return True
    return allows(
        statements_of(topic.policy()),
        action="sns:Publish",
        principal_service=sender.service,
        principal_account=None if sender.service else sender.account,
        resource=topic.arn,
        context={
            "aws:SourceArn": sender.source_arn,
            "aws:SourceAccount": sender.account,
            # The default policy's `AWS:SourceOwner`: the account acting, never a service.
            "aws:SourceOwner": None if sender.service else sender.account,
        },
    )


class TopicTargets:
    """The SNS handler registered with `fireside.targets.Targets` under `sns`."""

    def __init__(self, provider: SnsProvider) -> None:
        self._provider = provider

    def accept_many(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for delivery in deliveries:
            topic = self._provider.topics.get(delivery.arn)
            if topic is None:
                outcomes.append(Refused("NotFound", "Topic does not exist"))
                continue
            if not may_publish(topic, delivery.sender):
                outcomes.append(
                    Refused(
                        "AuthorizationError",
                        f"The policy of topic {topic.arn} does not allow "
                        f"{delivery.sender.service or delivery.sender.account} to publish to it"
                        + (
                            f" for {delivery.sender.source_arn}"
                            if delivery.sender.source_arn
                            else ""
                        )
                        + ".",
                    )
                )
                continue
            params: dict[str, object] = {"Message": delivery.body}
            if delivery.subject:
                params["Subject"] = delivery.subject
            if delivery.attributes:
                params["MessageAttributes"] = {k: dict(v) for k, v in delivery.attributes.items()}
            if delivery.group_id:
                params["MessageGroupId"] = delivery.group_id
            if delivery.dedup_id and topic.fifo:
                params["MessageDeduplicationId"] = delivery.dedup_id
            try:
                outcomes.append(Accepted(self._provider.publish_one(topic, params)))
            except ServiceError as exc:
                outcomes.append(Refused(exc.code, exc.message))
        return outcomes
