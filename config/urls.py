"""URL configuration: everything lives under the admin."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

# A refused page in the admin's look, naming the missing permission.
handler403 = "perfconsole.core.forbidden.permission_denied"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
