from django.urls import path

from apps.training import views

app_name = "training"
urlpatterns = [
    path("projects/<int:project_id>/runs/", views.run_list, name="list"),
    path("runs/<int:run_id>/", views.run_detail, name="detail"),
    path("runs/<int:run_id>/curves.json", views.run_curves_json, name="curves"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="cancel"),
    path("runs/<int:run_id>/use-in-chat/", views.run_use_in_chat, name="use-in-chat"),
    path("runs/<int:run_id>/artifacts/<path:path>", views.run_artifact, name="artifact"),
]
