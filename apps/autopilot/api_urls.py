from django.urls import path

from apps.autopilot import apis

app_name = "autopilot-api"
urlpatterns = [
    path("projects/<int:project_id>/rules/", apis.rule_list_api, name="rule-list"),
    path(
        "projects/<int:project_id>/rules/<int:rule_id>/", apis.rule_detail_api, name="rule-detail"
    ),
    path("projects/<int:project_id>/champions/", apis.champion_list_api, name="champion-list"),
    path(
        "projects/<int:project_id>/champions/rollback/",
        apis.champion_rollback_api,
        name="champion-rollback",
    ),
    path("projects/<int:project_id>/autopilot/", apis.chain_api, name="chain"),
]
