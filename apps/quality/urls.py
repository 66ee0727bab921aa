from django.urls import path

from apps.quality import views

app_name = "quality"
urlpatterns = [
    path("projects/<int:project_id>/quality/", views.quality_table, name="table"),
    path(
        "projects/<int:project_id>/quality/annotators/<int:user_id>/",
        views.annotator_exclusion,
        name="exclude",
    ),
    path(
        "projects/<int:project_id>/tasks/<int:task_id>/review/", views.task_review_page, name="task"
    ),
    path(
        "projects/<int:project_id>/judgments/<int:judgment_id>/exclusion/",
        views.judgment_exclusion,
        name="exclude-judgment",
    ),
]
