"""The REST API of the relational data store, under /api/v1/workspaces/<slug>/: the model
(model.py), records (records.py) and ingestion jobs (ingestion.py). Reads need the viewer
role, writes the marketer role (WorkspaceScopedMixin's defaults)."""
