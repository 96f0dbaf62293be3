"""HTML screens of the relational data store: the model editor (model.py, entity.py), the
data browser (records.py) and CSV ingestion (ingestion.py)."""
