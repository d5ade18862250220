"""CloudFormation: stacks, change sets and the resource providers that build them."""
