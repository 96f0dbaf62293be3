"""What every app's API builds on: pagination, errors, the OpenAPI hooks, the docs page."""
