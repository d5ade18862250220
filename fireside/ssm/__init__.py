"""SSM Parameter Store: parameters (String, StringList, SecureString) with versions, labels
and tags, per account and region, durable in the data directory.

`provider.py` answers the operations; `names.py` checks names and selectors; `filters.py`
the filters of the listing operations; `secrets.py` keeps SecureString values encrypted at
rest; `store.py` keeps it all in SQLite; `tagging.py` the tag operations.
"""

from fireside.ssm.provider import SsmProvider
from fireside.ssm.secrets import SecretBox
from fireside.ssm.store import SsmStore

__all__ = ["SecretBox", "SsmProvider", "SsmStore"]
