from django.urls import path

from apps.webhooks import apis

# The paths and names are those the webhook API had under the dataset API.
app_name = "webhooks-api"
urlpatterns = [
    path("projects/<int:project_id>/webhooks/", apis.webhook_list_api, name="webhook-list"),
    path("webhooks/<int:endpoint_id>/", apis.webhook_detail_api, name="webhook-detail"),
    path(
        "webhooks/<int:endpoint_id>/deliveries/",
        apis.webhook_delivery_list_api,
        name="webhook-delivery-list",
    ),
]
