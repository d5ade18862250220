import json
import os
import uuid

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE"])


def handler(event, context):
    TABLE.put_item(Item={"id": str(uuid.uuid4()), "path": event.get("rawPath", "")})
    count = TABLE.scan(Select="COUNT")["Count"]
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": os.environ["GREETING"], "visits": count}),
    }
