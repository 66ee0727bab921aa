from django.urls import path, re_path

from apps.exports import apis

app_name = "exports-api"
urlpatterns = [
    path("projects/<int:project_id>/exports/", apis.export_job_list_api, name="export-list"),
    path(
        "projects/<int:project_id>/exports/kinds/",
        apis.export_kind_list_api,
        name="export-kind-list",
    ),
    re_path(
        r"^projects/(?P<project_id>[0-9]+)/exports/(?P<kind>[a-z_]+)\.(?P<file_format>jsonl|parquet)$",
        apis.export_download_now_api,
        name="export-now",
    ),
    path("exports/<int:job_id>/", apis.export_job_detail_api, name="export-detail"),
    path("exports/<int:job_id>/download/", apis.export_job_download_api, name="export-download"),
    path("projects/<int:project_id>/snapshots/", apis.snapshot_list_api, name="snapshot-list"),
    path("snapshots/<int:snapshot_id>/", apis.snapshot_detail_api, name="snapshot-detail"),
    path(
        "snapshots/<int:snapshot_id>/download/",
        apis.snapshot_download_api,
        name="snapshot-download",
    ),
    path("snapshots/<int:snapshot_id>/card/", apis.snapshot_card_api, name="snapshot-card"),
    path(
        "projects/<int:project_id>/dataset-imports/",
        apis.dataset_import_list_api,
        name="dataset-import-list",
    ),
    path(
        "dataset-imports/<int:import_id>/",
        apis.dataset_import_detail_api,
        name="dataset-import-detail",
    ),
]
