from django.urls import path

from apps.exports import views

app_name = "exports"
urlpatterns = [
    path("projects/<int:project_id>/datasets/", views.datasets_home, name="home"),
    path(
        "projects/<int:project_id>/datasets/download/",
        views.datasets_download,
        name="download",
    ),
    path(
        "projects/<int:project_id>/datasets/import/",
        views.dataset_import_new,
        name="import-new",
    ),
    path("dataset-imports/<int:import_id>/", views.dataset_import_detail, name="import-detail"),
]
