"""The 403 page: the admin's look and a sentence on the missing permission."""

from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from perfconsole.core.pages import admin_page_context, render_admin_page

# URL names of the admin's own views: they need no permission of their own.
STANDARD_VIEWS = {"changelist", "change", "add", "delete", "history"}


def permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    """Answer a refused request with the admin's 403 page.

    A PermissionDenied raised with a message says what is missing; without
    one, the page works it out from the admin URL that refused.
    """
    reason = str(exception) if isinstance(exception, PermissionDenied) else ""
    context = admin_page_context(
        admin.site,
        request,
        "Permission needed",
        reason=reason or missing_permission(request),
    )
    return render_admin_page(request, "403.html", context, status=403)


def missing_permission(request: HttpRequest) -> str:
    """Return a sentence naming the permission the refused admin page needs."""
    model_admin, action = admin_view_of(request.path_info)
    if model_admin is None:
        return "Your account does not have the permission this page needs."
    opts = model_admin.opts
    if not model_admin.has_view_permission(request):
        permission = getattr(model_admin, "view_permission", "") or (
            f"{opts.app_label}.view_{opts.model_name}"
        )
        return needs(permission)
    lacking = [
        f"{opts.app_label}.{codename}"
        for codename in Permission.objects.filter(
            content_type__app_label=opts.app_label,
            content_type__model=opts.model_name,
        ).values_list("codename", flat=True)
        if action not in STANDARD_VIEWS
        and action in codename
        and not request.user.has_perm(f"{opts.app_label}.{codename}")
    ]
    if lacking:
        return needs(lacking[0])
    return (
        f"You may open the {opts.verbose_name_plural} but not do this: "
        "your account lacks the permission for it."
    )


def admin_view_of(path: str) -> tuple[admin.ModelAdmin | None, str]:
    """Return the model admin behind an admin URL and its view's name."""
    try:
        url_name = resolve(path).url_name or ""
    except Resolver404:
        return None, ""
    for model, model_admin in admin.site._registry.items():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if url_name.startswith(prefix):
            return model_admin, url_name.removeprefix(prefix)
    return None, ""


def needs(permission: str) -> str:
    """Return the sentence for one missing permission, "app.codename"."""
    app_label, codename = permission.split(".", 1)
    name = (
        Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        .values_list("name", flat=True)
        .first()
    )
    shown = f"“{name}” ({permission})" if name else permission
    return (
        f"You need the permission {shown}. "
        "An administrator can grant it on your user or one of your groups."
    )
