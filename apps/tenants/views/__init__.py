"""Tenants' pages: the workspace screens (home, members, API keys, settings, audit log),
invitations, and the account pages around Django's auth views."""
