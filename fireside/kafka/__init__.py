"""A Kafka-wire-compatible broker embedded in Fireside (one node, its own port).

Layers, bottom up: `codec`, `schemas` and `group_schemas` (the wire format), `records` (record
batches by their headers) and `decode` (records out of batches, for in-process consumers),
`segment` and `log` (partition storage), `store` (topics, group offsets, producer ids in SQLite),
`broker` (the Python API that handlers and, later, Kafka event-source mappings use), `handlers`,
`groups` and `group_offsets` (one function per API), `fallback` (error answers in each API's
shape), `server` (frames and connections) and `service` (what `fireside.app` starts).
"""
