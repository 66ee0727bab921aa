"""The chat over HTTP: read a conversation, send a message, react to a reply."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from apps.chat.models import Message, ReactionKind
from apps.chat.selectors import conversation_get_for_user, conversation_view
from apps.chat.services import message_retry, message_send, reaction_set


class MessageOut(serializers.ModelSerializer):
    reaction = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "index",
            "role",
            "status",
            "content",
            "model_name",
            "error",
            "created_at",
            "reaction",
        ]

    def get_reaction(self, message) -> str | None:
        mine = getattr(message, "my_reaction", None)
        return mine.kind if mine else None


class ConversationOut(serializers.Serializer):
    id = serializers.IntegerField(source="conversation.id")
    project = serializers.IntegerField(source="conversation.project_id")
    created_at = serializers.DateTimeField(source="conversation.created_at")
    messages = MessageOut(many=True)


class MessageIn(serializers.Serializer):
    content = serializers.CharField()


class ReactionIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReactionKind.choices)


@extend_schema(responses={200: ConversationOut})
@api_view(["GET"])
def conversation_detail_api(request, conversation_id: int):
    """One of the caller's conversations, with the caller's reaction on each reply."""
    conversation = conversation_get_for_user(user=request.user, conversation_id=conversation_id)
    return Response(
        ConversationOut(conversation_view(conversation=conversation, user=request.user)).data
    )


@extend_schema(request=MessageIn, responses={201: MessageOut})
@api_view(["POST"])
def message_send_api(request, conversation_id: int):
    """Sends a message and answers the model's reply, `pending` until a worker has written it:
    read the conversation until its status is `done` (or `failed`, with `error`). 429 past the
    caller's messages-per-minute limit (`retry_after` seconds)."""
    data = MessageIn(data=request.data)
    data.is_valid(raise_exception=True)
    reply = message_send(
        user=request.user, conversation_id=conversation_id, content=data.validated_data["content"]
    )
    return Response(MessageOut(reply).data, status=status.HTTP_201_CREATED)


@extend_schema(request=None, responses={202: MessageOut})
@api_view(["POST"])
def message_retry_api(request, conversation_id: int):
    """Asks again for the conversation's failed, missing or abandoned last reply."""
    reply = message_retry(user=request.user, conversation_id=conversation_id)
    return Response(MessageOut(reply).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(request=ReactionIn, responses={200: ReactionIn, 204: None})
@api_view(["PUT", "DELETE"])
def reaction_api(request, message_id: int):
    """PUT sets (or replaces) the caller's reaction to a reply; DELETE removes it."""
    if request.method == "DELETE":
        reaction_set(user=request.user, message_id=message_id, kind="")
        return Response(status=status.HTTP_204_NO_CONTENT)
    data = ReactionIn(data=request.data)
    data.is_valid(raise_exception=True)
    reaction = reaction_set(
        user=request.user, message_id=message_id, kind=data.validated_data["kind"]
    )
    return Response({"kind": reaction.kind})
