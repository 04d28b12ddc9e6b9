"""URL configuration: everything lives under the admin."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from perfconsole.history.scoping import switch_target_view

# A refused page in the admin's look, naming the missing permission.
handler403 = "perfconsole.core.forbidden.permission_denied"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # The target switch page the header links to (before the admin catch-all).
    path("admin/target/", switch_target_view, name="switch_target"),
    path("admin/", admin.site.urls),
]
