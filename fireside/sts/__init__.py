"""STS (AWS Security Token Service): who a caller is, and temporary credentials.

See `provider.py`; the wire protocol is the AWS query protocol (`fireside.aws.query`).
"""

from fireside.sts.provider import StsProvider, assumed_role, new_access_key

__all__ = ["StsProvider", "assumed_role", "new_access_key"]
