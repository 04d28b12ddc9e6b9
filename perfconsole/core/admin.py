"""Admin building blocks shared by the console's apps."""

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.urls import path

from perfconsole.core.pages import admin_page_context, render_admin_page


class ReadOnlyAdminMixin:
    """Show rows that only the console itself (or PostgreSQL) writes."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Columns whose first click sorts largest (or latest) first.
LARGEST_FIRST_FIELDS = (
    models.IntegerField,
    models.FloatField,
    models.DecimalField,
    models.DateField,
    models.DurationField,
)


class LargestFirstChangeList(ChangeList):
    """A changelist whose number and date columns sort largest first.

    The admin's header links sort a column ascending on its first click: a
    DBA looking at counts or times wants the largest or latest first. The
    link of a column not sorted yet asks for its descending order; later
    clicks toggle as usual.
    """

    def get_query_string(
        self,
        new_params: dict[str, Any] | None = None,
        remove: Iterable[str] | None = None,
    ) -> str:
        order = (new_params or {}).get(ORDER_VAR)
        if new_params and order:
            first, _, rest = str(order).partition(".")
            if first.isdigit() and self.sorts_largest_first(int(first)):
                desc = ".".join(part for part in (f"-{first}", rest) if part)
                new_params = {**new_params, ORDER_VAR: desc}
        return super().get_query_string(new_params, remove)

    def sorts_largest_first(self, index: int) -> bool:
        """Return True for a number or date column not sorted yet."""
        if index in self.get_ordering_field_columns():
            return False
        name = self.list_display[index]
        if not isinstance(name, str):
            return False
        # A method column sorts by the field its admin_order_field names.
        method = getattr(self.model_admin, name, getattr(self.model, name, None))
        field_name = getattr(method, "admin_order_field", name)
        if not isinstance(field_name, str):
            return False
        try:
            field = self.lookup_opts.get_field(field_name.lstrip("-"))
        except FieldDoesNotExist:
            return False
        return isinstance(field, LARGEST_FIRST_FIELDS)


class LargestFirstMixin:
    """Give a ModelAdmin the changelist that sorts numbers and dates largest first."""

    def get_changelist(self, request: Any, **kwargs: Any) -> type[ChangeList]:
        return LargestFirstChangeList


class CheckedAutocompleteSelect(AutocompleteSelect):
    """An autocomplete that shows a malformed submitted id as no selection.

    Redisplaying a form with its errors, Django's widget looks the submitted
    id up as given, and an id the key cannot hold (`abc` for a UUID) raised
    a 500 instead of showing the field's own error.
    """

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        target = remote.model._meta.get_field(remote.field_name)
        return super().optgroups(name, [v for v in value if fits(target, v)], attr)


def fits(field, value):
    """Return True if the model field can hold the submitted value."""
    try:
        field.to_python(value)
    except ValidationError:
        return False
    return True


class CheckedAutocompleteMixin(BaseModelAdmin):
    """Use CheckedAutocompleteSelect for the admin's autocomplete_fields."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs.setdefault(
                "widget",
                CheckedAutocompleteSelect(
                    db_field, self.admin_site, using=kwargs.get("using")
                ),
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class PageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """An admin entry that is one read-only page in place of a change list.

    Subclasses write `page_view(request)`; `view_permission` names the
    permission that opens it (the model's own view permission when empty).
    Nothing can be added, changed or deleted.
    """

    view_permission = ""

    def has_view_permission(self, request, obj=None):
        if self.view_permission:
            return request.user.is_active and request.user.has_perm(
                self.view_permission
            )
        return super().has_view_permission(request, obj)

    def url_name(self, action):
        return f"{self.opts.app_label}_{self.opts.model_name}_{action}"

    def page_urls(self):
        """Return URL patterns besides the page itself."""
        return []

    def get_urls(self):
        # Only the page: these models have no rows to change or delete.
        view = self.admin_site.admin_view(self.changelist_view)
        return [*self.page_urls(), path("", view, name=self.url_name("changelist"))]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self.page_view(request)

    def page_view(self, request):
        raise NotImplementedError

    def render_page(self, request, template, title, *, status=200, **context):
        """Render a template inside the admin with the site's context."""
        context = admin_page_context(self, request, title, **context)
        return render_admin_page(request, template, context, status=status)


def log_console_change(
    user: Any,
    model: type[models.Model],
    object_id: str,
    object_repr: str,
    message: str,
) -> None:
    """Record a change the console made outside its rows in the admin log.

    A cancelled session or a statistics reset is no model instance, so
    ModelAdmin.log_change cannot take it; the entry names the model of the
    page it was done from.
    """
    LogEntry.objects.create(
        user_id=user.pk,
        content_type=ContentType.objects.get_for_model(model),
        object_id=object_id,
        object_repr=object_repr,
        action_flag=CHANGE,
        change_message=message,
    )
