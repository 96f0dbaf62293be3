"""Tenants' API: the workspace scoping every workspace API view mixes in, and the
workspace, members, API keys and audit endpoints."""
