from django.urls import path

from apps.labeling import views

app_name = "labeling"
urlpatterns = [
    path("projects/<int:project_id>/label/", views.label, name="label"),
    path(
        "projects/<int:project_id>/label/<int:assignment_id>/submit/", views.submit, name="submit"
    ),
    path("projects/<int:project_id>/label/<int:assignment_id>/skip/", views.skip, name="skip"),
]
