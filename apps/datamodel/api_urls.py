
urlpatterns: list = []  # the data model, records and ingestion API
