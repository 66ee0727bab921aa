from django.urls import path

from apps.judges import views

app_name = "judges"
urlpatterns = [
    path("projects/<int:project_id>/judges/", views.judge_list, name="list"),
    path("projects/<int:project_id>/judges/calibration/", views.calibration, name="calibration"),
    path("judges/<int:judge_id>/", views.judge_detail, name="detail"),
    path("judges/<int:judge_id>/run/", views.judge_run, name="run"),
    path("judges/<int:judge_id>/evaluate/", views.judge_evaluate, name="evaluate"),
    path("judges/<int:judge_id>/delete/", views.judge_remove, name="delete"),
    path("judge-jobs/<int:job_id>/", views.job_detail, name="job"),
    path("judge-jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("judge-jobs/<int:job_id>/resume/", views.job_resume, name="job-resume"),
]
