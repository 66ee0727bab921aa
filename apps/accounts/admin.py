from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from apps.accounts.models import ApiToken, User

admin.site.register(User, UserAdmin)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by their users on their tokens page; here they can be seen and revoked."""

    list_display = ["name", "user", "scope", "token_key", "created", "expiry"]
    list_filter = ["scope"]
    search_fields = ["name", "token_key", "user__username"]
    readonly_fields = ["digest", "token_key", "user", "created", "expiry", "scope", "name"]

    def has_add_permission(self, request) -> bool:
        return False
