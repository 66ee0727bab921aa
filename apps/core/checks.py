"""System checks (run by `manage.py check`, `migrate` and `runserver`): a bad outbound
allow-list or secret key is reported before the first request needs it."""

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from apps.core.crypto import decrypt_secret, encrypt_secret
from apps.core.outbound import operator_allow_list


@register()
def outbound_and_secret_settings(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    try:
        operator_allow_list()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="arbiter.E001"))
    try:
        decrypt_secret(encrypt_secret("check"))
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="arbiter.E002"))
    return errors
