"""Amazon MSK's control plane (service `kafka`, rest-json) on Fireside.

A cluster is a Kafka broker of its own (`fireside.kafka`'s classes) with its own listener port
and data directory. `store` keeps the clusters durably, `clusters` runs their brokers,
`provider` and `topics` answer the API, `directory` is what Kafka event-source mappings use to
find a cluster's bootstrap servers.
"""

from fireside.msk.clusters import Clusters
from fireside.msk.directory import KafkaClusters
from fireside.msk.provider import MskProvider
from fireside.msk.store import ClusterRecord, MskStore

__all__ = ["ClusterRecord", "Clusters", "KafkaClusters", "MskProvider", "MskStore"]
