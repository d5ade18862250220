"""Durable state: the metadata database and content-addressed blobs."""
