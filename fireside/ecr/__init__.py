"""ECR (Elastic Container Registry): repositories, their lifecycle and repository policies,
tag mutability, scanning settings and tags, per account and region, durable in the data
directory. No image storage: there is no registry to push to yet.

`provider.py` answers the operations; `store.py` keeps repositories in SQLite.
"""

from fireside.ecr.provider import EcrProvider
from fireside.ecr.store import EcrStore

__all__ = ["EcrProvider", "EcrStore"]
