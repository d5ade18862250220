"""IAM (Identity and Access Management): roles, policies and instance profiles, stored and
returned for the tools that deploy (CloudFormation, SAM, CDK, Terraform), never enforced.

See `provider.py`; the wire protocol is the AWS query protocol (`fireside.aws.query`), the
state one SQLite file (`store.py`).
"""

from fireside.iam.provider import IamProvider
from fireside.iam.store import IamStore

__all__ = ["IamProvider", "IamStore"]
