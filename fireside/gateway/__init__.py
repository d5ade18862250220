"""The HTTP front doors of functions: Function URLs and API Gateway's REST and HTTP APIs.

`addresses` tells a front door's request from a call to an AWS API; the edge hands such a
request to the front door registered for its kind (`FrontDoors`).

The core every front door shares:
- `payload_v2`: payload format 2.0 (HTTP APIs, Function URLs): `build_event`, `interpret`;
- `payload_v1`: payload format 1.0 (REST API proxy, HTTP API 1.0): `build_event`, `interpret`,
  `is_binary`;
- `request_parts`: query parameters, cookies, text or base64 bodies, request times;
- `integration`: `FunctionCaller.call` runs an event on a function, checks the resource
  policy, and reports failures (`IntegrationFailure`) for each front door to answer its way.
"""
