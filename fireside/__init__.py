"""Fireside: a self-hosted serverless cloud that speaks AWS."""

__version__ = "0.1.0"
