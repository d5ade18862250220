"""SNS: topics, subscriptions and the deliveries they make."""
