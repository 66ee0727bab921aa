from django.urls import path

from apps.generation import apis

urlpatterns = [
    path(
        "projects/<int:project_id>/model-endpoints/",
        apis.model_endpoint_list_api,
        name="model-endpoint-list",
    ),
    path(
        "model-endpoints/<int:endpoint_id>/",
        apis.model_endpoint_detail_api,
        name="model-endpoint-detail",
    ),
]
