"""The audience screens: the portal (portal.py), the rule builder (builder.py) and the
previews of a rule (preview.py)."""
