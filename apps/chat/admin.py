from django.contrib import admin

from apps.chat.models import Conversation, Message, Reaction


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["index", "role", "status", "content", "model_name", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "user", "created_at"]
    list_filter = ["project"]
    readonly_fields = ["project", "user", "backend", "created_at"]
    inlines = [MessageInline]


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    list_display = ["id", "message", "user", "kind", "updated_at"]
    list_filter = ["kind"]
    readonly_fields = ["message", "user", "kind", "updated_at"]
