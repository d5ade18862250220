"""The directory of MSK clusters that Kafka event-source mappings resolve an ARN with.

This Protocol is the contract between the MSK control plane (`fireside.msk.clusters.Clusters`
implements it) and Lambda's Kafka mappings: a mapping holds a cluster ARN and asks, as its
own account, where that cluster's brokers listen.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["KafkaClusters"]


class KafkaClusters(Protocol):
    def bootstrap(self, account: str, region: str, cluster_arn: str) -> str | None:
        """'host:port,...' of the caller's own ACTIVE cluster, or None (unknown, another
        account's, not active)."""
        ...

    def uses_iam(self, account: str, region: str, cluster_arn: str) -> bool:
        """Whether the caller's own cluster has IAM client authentication (clients sign in
        with SASL/IAM)."""
        ...
