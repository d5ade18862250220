"""A Kafka-wire-compatible broker embedded in Fireside (one node, its own port).

Layers, bottom up: `codec` and `schemas` (the wire format), `records` (record batches by their
headers), `segment` and `log` (partition storage), `store` (topics, group offsets, producer ids in
SQLite), `broker` (the Python API that handlers and, later, Kafka event-source mappings use),
`handlers` / `groups` (one function per API), `server` (frames and connections) and `service`
(what `fireside.app` starts).
"""
