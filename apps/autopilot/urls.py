from django.urls import path

from apps.autopilot import views

app_name = "autopilot"
urlpatterns = [
    path("projects/<int:project_id>/autopilot/", views.autopilot_home, name="home"),
]
