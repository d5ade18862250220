"""EC2: the networking control plane (VPCs, subnets, security groups, gateways, route tables,\naddresses) as durable records; see `fireside.ec2.provider`."""
