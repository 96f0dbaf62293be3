"""The REST API of campaigns, under /api/v1/workspaces/<slug>/: campaigns and their draft
(campaigns.py: CRUD, draft, validate, test runs, duplicate), the lifecycle (lifecycle.py:
publish, start, stop, pause, resume, close, archive, and partners' trigger), and runs
(runs.py: runs with per-activity counts and edge counts, one activity's log, the catalog
of activity types). Reads need the viewer role; editing and testing the marketer role;
publishing, starting, stopping and triggering the approver role."""
