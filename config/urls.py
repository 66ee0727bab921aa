from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.imports import apis as import_apis
from apps.labeling import apis as labeling_apis
from apps.projects import apis as project_apis
from apps.projects.views import home

api = [
    path("projects/", project_apis.project_list_api, name="project-list"),
    path("projects/<int:project_id>/", project_apis.project_detail_api, name="project-detail"),
    path("projects/<int:project_id>/imports/", import_apis.import_create_api, name="import-create"),
    path("imports/<int:job_id>/", import_apis.import_detail_api, name="import-detail"),
    path("projects/<int:project_id>/tasks/next/", labeling_apis.next_task_api, name="task-next"),
    path(
        "assignments/<int:assignment_id>/judgment/",
        labeling_apis.submit_api,
        name="judgment-submit",
    ),
    path("assignments/<int:assignment_id>/skip/", labeling_apis.skip_api, name="assignment-skip"),
    path(
        "projects/<int:project_id>/judgments/",
        labeling_apis.judgment_list_api,
        name="judgment-list",
    ),
    path("judgments/<int:judgment_id>/", labeling_apis.judgment_detail_api, name="judgment-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script under the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    # First: the labeling loop's API is the most requested, and a pattern tried before it costs
    # (a failed include such as the admin's copies every pattern it tried).
    path("api/", include(api)),
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The JavaScript catalog of the request's language, served as a script file (CSP-safe).
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("", include("apps.projects.urls")),
    path("", include("apps.labeling.urls")),
    path("", include("apps.imports.urls")),
    path("", include("apps.accounts.urls")),
    path("", include("apps.chat.urls")),
    path("", include("apps.exports.urls")),
    path("", include("apps.quality.urls")),
    path("", include("apps.training.urls")),
    path("", include("apps.dashboard.urls")),
    path("", include("apps.generation.urls")),
    path("", include("apps.autopilot.urls")),
    path("", include("apps.judges.urls")),
    path("", include("apps.arena.urls")),
    path("", include("apps.teams.urls")),
    path("", include("apps.teams.oidc_urls")),
    path("api/", include("apps.exports.api_urls")),
    path("api/", include("apps.webhooks.api_urls")),
    path("api/", include("apps.dashboard.api_urls")),
    path("api/", include("apps.training.api_urls")),
    path("api/", include("apps.generation.api_urls")),
    path("api/", include("apps.autopilot.api_urls")),
]
