
urlpatterns: list = []  # the data model editor, data browser and ingestion pages
