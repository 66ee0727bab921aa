from django.urls import path

from apps.chat import apis, views

app_name = "chat"
urlpatterns = [
    path("projects/<int:project_id>/chat/", views.chat_home, name="home"),
    path("projects/<int:project_id>/chat/new/", views.conversation_new, name="new"),
    path("projects/<int:project_id>/chat/settings/", views.chat_settings, name="settings"),
    path("chat/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("chat/<int:conversation_id>/send/", views.send, name="send"),
    path("chat/<int:conversation_id>/retry/", views.retry, name="retry"),
    path("chat/messages/<int:message_id>/", views.reply_detail, name="reply"),
    path("chat/messages/<int:message_id>/reaction/", views.react, name="react"),
    path(
        "api/chat/conversations/<int:conversation_id>/",
        apis.conversation_detail_api,
        name="api-conversation",
    ),
    path(
        "api/chat/conversations/<int:conversation_id>/messages/",
        apis.message_send_api,
        name="api-send",
    ),
    path(
        "api/chat/conversations/<int:conversation_id>/retry/",
        apis.message_retry_api,
        name="api-retry",
    ),
    path("api/chat/messages/<int:message_id>/reaction/", apis.reaction_api, name="api-reaction"),
]
