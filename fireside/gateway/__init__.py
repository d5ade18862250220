"""The HTTP front doors of functions: Function URLs and API Gateway's REST and HTTP APIs.

`addresses` tells a front door's request from a call to an AWS API; the edge hands such a
request to the front door registered for its kind (`FrontDoors`).
"""
