"""HTML screens of campaigns: the list (campaigns.py), the canvas editor (editor.py) and a
run's page with its live status (runs.py)."""
