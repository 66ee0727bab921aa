from django.urls import path

from apps.teams import views

app_name = "teams"
urlpatterns = [
    path("projects/<int:project_id>/team/", views.team, name="team"),
    path("projects/<int:project_id>/team/invitations/", views.invitation_new, name="invite"),
    path(
        "projects/<int:project_id>/team/invitations/<int:invitation_id>/withdraw/",
        views.invitation_delete,
        name="invitation-withdraw",
    ),
    path(
        "projects/<int:project_id>/team/members/<int:user_id>/",
        views.member_terms,
        name="member",
    ),
    path("projects/<int:project_id>/team/assign/", views.assign, name="assign"),
    path("projects/<int:project_id>/team/report.csv", views.report_csv, name="report"),
    path("invitations/<str:secret>/", views.accept, name="accept"),
]
