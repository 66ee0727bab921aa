from django.urls import path

from apps.training import apis

urlpatterns = [
    path("projects/<int:project_id>/runs/", apis.run_list_api, name="run-list"),
    path("projects/<int:project_id>/models/", apis.model_list_api, name="model-list"),
    path("runs/<int:run_id>/", apis.run_detail_api, name="run-detail"),
    path("runs/<int:run_id>/cancel/", apis.run_cancel_api, name="run-cancel"),
    path("runs/<int:run_id>/curves/", apis.run_curves_api, name="run-curves"),
]
