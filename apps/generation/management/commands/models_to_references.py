from django.core.management.base import BaseCommand

from apps.generation.legacy_models import legacy_model_paths_convert


class Command(BaseCommand):
    help = (
        "Rewrites model paths stored before models were chosen by reference (training runs, "
        "generation jobs, rounds, chat projects) as references, where they name a model the "
        "row's project may use; lists the rest, which the worker refuses. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Report; change nothing.")

    def handle(self, *args, dry_run: bool, **options):
        report = legacy_model_paths_convert(dry_run=dry_run)
        for line in report.refused:
            self.stdout.write(f"left as is (not a model this project may use): {line}")
        verb = "would convert" if dry_run else "converted"
        self.stdout.write(f"{verb}={report.converted} left={len(report.refused)}")
