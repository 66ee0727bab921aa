from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """An Arbiter account. Staff users may create projects; roles inside a project live on
    `projects.Membership`."""
