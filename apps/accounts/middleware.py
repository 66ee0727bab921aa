"""Applies a signed-in user's chosen language to every request they make."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation


class UserLanguageMiddleware:
    """Runs after `LocaleMiddleware` (which picked the browser's language from Accept-Language)
    and `AuthenticationMiddleware`: a user who chose a language on their settings page gets it,
    whatever their browser asks for. A user with no choice keeps the browser's language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None else ""
        if language and user.is_authenticated:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
