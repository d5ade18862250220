"""S3: buckets and objects over the rest-xml protocol (see docs/s3.md)."""
