"""Starts the test OIDC provider: migrates its SQLite database, registers Arbiter as a client
and the given users (with their groups), then serves HTTP until killed.

    python -m tests.oidc_provider.serve --port 8765 --redirect-uri http://localhost:8000/oidc/callback/ \
        --client-id arbiter --client-secret s3cret --user alice:pw:alice@example.org:labelers,leads
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _rsa_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--user", action="append", default=[], help="name:password:email:g1,g2")
    args = parser.parse_args()

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    os.environ.setdefault("OIDC_PROVIDER_DB", str(Path(tempfile.mkdtemp()) / "provider.sqlite3"))
    os.environ["OIDC_PROVIDER_RSA_KEY"] = _rsa_key()

    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0, interactive=False)
    for spec in args.user:
        name, password, email, groups = (spec.split(":", 3) + [""] * 4)[:4]
        user = User.objects.create_user(username=name, password=password, email=email)
        for group in filter(None, groups.split(",")):
            user.groups.add(Group.objects.get_or_create(name=group)[0])
    Application.objects.create(
        name="Arbiter",
        client_id=args.client_id,
        client_secret=args.client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=args.redirect_uri,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )

    from django.core.servers.basehttp import WSGIServer, run
    from django.core.wsgi import get_wsgi_application

    print(f"provider ready on http://{args.host}:{args.port}", flush=True)
    run(args.host, args.port, get_wsgi_application(), threading=True, server_cls=WSGIServer)


if __name__ == "__main__":
    main()
