"""Elastic Load Balancing v2: Application Load Balancers with Lambda targets.

`provider.py` ties it together (query protocol, signing name `elasticloadbalancing`);
`balancers.py` (load balancers, listeners), `rules.py` and `target_groups.py` answer the
control plane, checking actions and conditions with `actions.py`; `state.py` holds every
resource in memory, written through `store.py` (`elb.sqlite`); `ports.py` binds each listener's
port; `door.py` serves requests on them (`matching.py` for rule conditions, `payload.py` for
the Lambda event and answer); `health.py` checks Lambda targets.
"""

from fireside.elb.provider import ElbProvider, LambdaFunctions

__all__ = ["ElbProvider", "LambdaFunctions"]
