"""The AWS wire layer: botocore service models, protocols, SigV4 and AWS-shaped errors."""
