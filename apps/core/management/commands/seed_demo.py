from django.core.management.base import BaseCommand

from apps.core.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Seeds the demo (idempotent): the demo accounts, a project of every feedback kind with "
        "simulated annotators' judgments, and reward-model runs (queued for the worker)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--train",
            choices=["queue", "now", "no"],
            default="queue",
            help="queue the reward-model runs for a worker (default), train them here, or skip.",
        )

    def handle(self, *args, train: str, **options):
        report = demo_seed(train=train)
        for name, made in report.projects.items():
            self.stdout.write(
                f"{name}: {made} judgments made now" if made else f"{name}: as it was"
            )
        if report.runs:
            self.stdout.write(f"Training runs launched: {', '.join(map(str, report.runs))}.")
