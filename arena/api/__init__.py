"""The REST API under /api/v1: dependencies, request and response models, routes."""
