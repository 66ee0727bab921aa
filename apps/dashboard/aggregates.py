from django.db.models import Aggregate, FloatField


class Median(Aggregate):
    """PostgreSQL's exact median (percentile_cont). SQLite has none; callers fall back."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    allow_distinct = False
