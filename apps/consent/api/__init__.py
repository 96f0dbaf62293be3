"""Consent's partner API (DRF views per topic, routed in urls.py)."""
