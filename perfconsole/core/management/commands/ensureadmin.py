"""Create the console's first admin login, or update it from the environment."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Ensure an admin login exists. CONSOLE_ADMIN_USER / CONSOLE_ADMIN_PASSWORD "
        "set it; otherwise the first run creates 'admin' with a random password "
        "and keeps it in var/admin-login.txt (readable by you only)."
    )

    def handle(self, **options):
        User = get_user_model()
        username = os.environ.get("CONSOLE_ADMIN_USER")
        password = os.environ.get("CONSOLE_ADMIN_PASSWORD")
        if username and password:
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff = user.is_superuser = user.is_active = True
            user.set_password(password)
            user.save()
            self.stdout.write(
                f"Login: {username} (password from CONSOLE_ADMIN_PASSWORD)"
            )
            return

        login_file = settings.VAR_DIR / "admin-login.txt"
        if User.objects.filter(is_superuser=True).exists():
            remembered = self._remembered_login(login_file, User)
            if remembered:
                self.stdout.write(f"Login: {remembered[0]} / {remembered[1]}")
            else:
                self.stdout.write(
                    "An admin login exists already; reset its password with "
                    "`python manage.py changepassword <user>`."
                )
            return

        username = username or "admin"
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, password=password, email="")
        login_file.parent.mkdir(exist_ok=True)
        login_file.touch(mode=0o600)
        login_file.write_text(f"{username}\n{password}\n")
        self.stdout.write(f"Created admin login: {username} / {password}")

    def _remembered_login(self, login_file, User):
        """Return (user, password) from var/ if that password still works."""
        try:
            username, password = login_file.read_text().split()[:2]
        except (FileNotFoundError, ValueError):
            return None
        user = User.objects.filter(username=username, is_superuser=True).first()
        if user and user.check_password(password):
            return username, password
        return None
