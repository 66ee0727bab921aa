from axes.backends import AxesStandaloneBackend


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check on every login made through a request (the login form).

    Logins without a request (Django's test client, the shell) have no client to lock out; axes
    would refuse them with an error, so they pass on to the next backend.
    """

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
