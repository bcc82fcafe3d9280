"""Background jobs: board refits and other periodic work, on one leader when there are replicas."""
