from django.urls import path

from apps.dashboard import apis

app_name = "dashboard-api"
urlpatterns = [
    path("projects/<int:project_id>/jobs/", apis.project_job_list_api, name="job-list"),
]
