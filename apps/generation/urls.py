from django.urls import path

from apps.generation import round_views, views

app_name = "generation"
urlpatterns = [
    path("projects/<int:project_id>/generation/", views.job_list, name="list"),
    path("projects/<int:project_id>/generation/new/", views.job_new, name="new"),
    path(
        "projects/<int:project_id>/generation/consequences/new/",
        views.consequence_new,
        name="consequences-new",
    ),
    path("generation/<int:job_id>/", views.job_detail, name="detail"),
    path("generation/<int:job_id>/cancel/", views.job_cancel, name="cancel"),
    path("generation/<int:job_id>/resume/", views.job_resume, name="resume"),
    path("projects/<int:project_id>/rounds/", round_views.rounds_page, name="rounds"),
    path(
        "projects/<int:project_id>/rounds/<int:number>/train/<str:what>/",
        round_views.round_train,
        name="round-train",
    ),
]
