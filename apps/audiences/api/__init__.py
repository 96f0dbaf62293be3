"""The REST API of audiences, under /api/v1/workspaces/<slug>/: saved audiences
(audiences.py: CRUD, count, sample, export, snapshot, duplicate, upload) and rules without
a saved audience (rules.py: validate, count, sample, distribution, per-group counts, SQL).
Reads need the viewer role (also the POSTs that only evaluate a rule); writes, and exports
(data leaving the platform), the marketer role."""
