from django.urls import path

from apps.imports import views

app_name = "imports"
urlpatterns = [
    path("projects/<int:project_id>/imports/new/", views.import_new, name="new"),
    path("imports/<int:job_id>/", views.import_detail, name="detail"),
]
