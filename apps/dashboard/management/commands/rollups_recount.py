"""manage.py rollups_recount [--project ID ...]: rebuilds the dashboard rollups from the
judgments (every project unless some are named)."""

import time

from django.core.management.base import BaseCommand

from apps.dashboard.services import rollups_recount
from apps.projects.models import Project


class Command(BaseCommand):
    help = "Rebuild the dashboard rollups of every project (or of the named ones) from scratch."

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, action="append", dest="projects")

    def handle(self, *args, projects=None, **options):
        chosen = Project.objects.order_by("pk")
        if projects:
            chosen = chosen.filter(pk__in=projects)
        for project in chosen:
            started = time.perf_counter()
            rollups_recount(project=project)
            if options["verbosity"] > 0:
                self.stdout.write(
                    f"project {project.pk}: rollups recounted in "
                    f"{time.perf_counter() - started:.1f} s"
                )
