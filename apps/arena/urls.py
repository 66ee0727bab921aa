from django.urls import path

from apps.arena import views

app_name = "arena"
urlpatterns = [
    path("projects/<int:project_id>/arena/", views.arena_home, name="home"),
    path("projects/<int:project_id>/arena/new/", views.battle_new, name="new"),
    path("projects/<int:project_id>/arena/models/", views.contestants, name="contestants"),
    path("arena/<int:battle_id>/", views.battle_detail, name="battle"),
    path("arena/<int:battle_id>/send/", views.send, name="send"),
    path("arena/<int:battle_id>/vote/", views.vote, name="vote"),
    path("arena/<int:battle_id>/retry/", views.retry, name="retry"),
    path("arena/<int:battle_id>/reveal/", views.reveal, name="reveal"),
]
