import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import User
from apps.imports.services import import_job_create, import_job_run
from apps.projects.demo import DEMO_GUIDELINES, demo_rows
from apps.projects.models import FeedbackKind, Project, Role
from apps.projects.services import membership_set, project_create

DEMO_PROJECT = "Demo: which answer is better?"
LOGINS = {"admin": "arbiter-admin", "annotator": "arbiter-label"}


class Command(BaseCommand):
    help = (
        "Creates the demo accounts and a pairwise project with a few hundred prompts (idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--prompts", type=int, default=300)

    def handle(self, *args, prompts: int, **options):
        admin = self._user("admin", superuser=True)
        annotator = self._user("annotator")
        if Project.objects.filter(name=DEMO_PROJECT).exists():
            self.stdout.write("Demo project already exists; left as is.")
            return
        with transaction.atomic():
            project = project_create(
                creator=admin,
                name=DEMO_PROJECT,
                kind=FeedbackKind.PAIRWISE,
                overlap=2,
                guidelines=DEMO_GUIDELINES,
                pair_strategy="sampled",
                max_pairs_per_prompt=2,
            )
            membership_set(project=project, user=annotator, role=Role.ANNOTATOR)
            content = "\n".join(json.dumps(row) for row in demo_rows(prompts)).encode()
            job = import_job_create(
                project=project, user=admin, upload=SimpleUploadedFile("demo.jsonl", content)
            )
        # The import runs here, not on the worker, so the demo is ready when the URL is printed.
        job = import_job_run(job_id=job.pk)
        self.stdout.write(
            f"Demo project: {job.prompts_created} prompts, {job.tasks_created} tasks ({job.status})."
        )

    def _user(self, username: str, *, superuser: bool = False) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": superuser, "is_superuser": superuser}
        )
        if created:
            user.set_password(LOGINS[username])
            user.save()
        return user
