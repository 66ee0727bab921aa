"""python manage.py push_snapshot_to_hub --snapshot ID --repo OWNER/NAME [--private]

Uploads a snapshot's file and its dataset card (as README.md) to a Hugging Face dataset
repository. Runs only when the operator has set ARBITER_HF_HUB_TOKEN; without it, it refuses.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.exports.models import Snapshot
from apps.exports.selectors import snapshot_open


class Command(BaseCommand):
    help = "Upload a snapshot and its dataset card to a Hugging Face dataset repository."

    def add_arguments(self, parser):
        parser.add_argument("--snapshot", type=int, required=True, help="Snapshot id.")
        parser.add_argument("--repo", required=True, help="Dataset repository, owner/name.")
        parser.add_argument("--private", action="store_true", help="Create it private.")

    def handle(self, *args, **opts):
        token = settings.ARBITER_HF_HUB_TOKEN
        if not token:
            raise CommandError(
                "ARBITER_HF_HUB_TOKEN is not set: the operator configures a Hugging Face token"
                " before anything is uploaded."
            )
        snapshot = Snapshot.objects.select_related("project").filter(pk=opts["snapshot"]).first()
        if snapshot is None:
            raise CommandError(f"No snapshot {opts['snapshot']}.")

        from huggingface_hub import HfApi  # only an operator who pushes needs the Hub client

        api = HfApi(token=token)
        repo = opts["repo"]
        api.create_repo(repo, repo_type="dataset", private=opts["private"], exist_ok=True)
        with snapshot_open(snapshot=snapshot, verify=True) as data:
            api.upload_file(
                path_or_fileobj=data,
                path_in_repo=snapshot.file_name,
                repo_id=repo,
                repo_type="dataset",
                commit_message=f"Snapshot {snapshot.sha256[:12]}",
            )
        api.upload_file(
            path_or_fileobj=snapshot.card.encode(),
            path_in_repo="README.md",
            repo_id=repo,
            repo_type="dataset",
            commit_message=f"Dataset card for snapshot {snapshot.sha256[:12]}",
        )
        self.stdout.write(
            f"Pushed snapshot {snapshot.pk} to https://huggingface.co/datasets/{repo}"
        )
