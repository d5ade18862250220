"""DNS for execution environments: AWS's names resolve to Fireside (`resolver`)."""
