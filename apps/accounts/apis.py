"""The caller's API tokens over HTTP: list them, revoke one. Tokens are made on the tokens page
(a browser session), so that no token can mint others."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import ApiToken
from apps.accounts.selectors import api_tokens_for_user
from apps.accounts.services import api_token_revoke


class TokenOut(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["token_key", "name", "scope", "created", "expiry"]


class TokenListApi(APIView):
    throttle_scope = "auth"

    @extend_schema(responses={200: TokenOut(many=True)})
    def get(self, request):
        """The caller's tokens that still work (never the tokens themselves)."""
        return Response(TokenOut(api_tokens_for_user(user=request.user), many=True).data)


class TokenDetailApi(APIView):
    throttle_scope = "auth"

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, token_key: str):
        """Revokes one of the caller's tokens (the one in use, too): it stops working at once."""
        api_token_revoke(user=request.user, token_key=token_key)
        return Response(status=status.HTTP_204_NO_CONTENT)
