"""Admin building blocks shared by the console's apps."""

from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
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
