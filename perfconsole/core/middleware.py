"""Middleware shared by every page of the console."""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import TO_FIELD_VAR
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.template.loader import render_to_string

NUL = "\x00"
TEMPLATE = "perfconsole/bad_request.html"


def holds_nul(data):
    """Return True if a key or a value of a QueryDict contains a NUL byte."""
    return any(
        NUL in key or any(NUL in value for value in values)
        for key, values in data.lists()
    )


def bad_request(message):
    """Render the 400 page; it needs no database, session or user."""
    summary = message[0].upper() + message[1:]
    return HttpResponseBadRequest(render_to_string(TEMPLATE, {"summary": summary}))


class BadInputMiddleware:
    """Answer malformed input with a 400 before a view or a query sees it.

    - A NUL byte in the query string or form data: PostgreSQL raises an
      error on a NUL in a text parameter, so such a value can never match or
      be stored. A NUL in the path names no page (404). Uploaded files are
      bytes, not text, and are not inspected.
    - Rows selected for an admin action whose ids are not ids of the model
      (`_selected_action=abc`): the admin filters on them as given, and the
      lookup's conversion error would be a 500, on every changelist.
    - An empty `_to_field` on an admin page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path_info:
            raise Http404("No page has a NUL byte in its address.")
        if holds_nul(request.GET):
            return bad_request(self.nul_message("query string"))
        if request.method == "POST" and holds_nul(request.POST):
            return bad_request(self.nul_message("form data"))
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # ModelAdmin.get_urls marks its views with the ModelAdmin.
        model_admin = getattr(view_func, "model_admin", None)
        if model_admin is None:
            return None
        if "" in (request.GET.get(TO_FIELD_VAR), request.POST.get(TO_FIELD_VAR)):
            # The admin never sends it empty; its change and delete pages
            # would look the row up by a field named "".
            return bad_request(f"{TO_FIELD_VAR} is empty; it must name a field.")
        if request.method == "POST":
            return self.check_selection(request, model_admin)
        return None

    def check_selection(self, request, model_admin):
        """Refuse selected action rows whose ids the model cannot hold."""
        selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
        if not selected:
            return None
        try:
            # Builds the admin's own lookup; nothing is queried.
            model_admin.model._default_manager.filter(pk__in=selected)
        except (ValidationError, ValueError, TypeError):
            names = model_admin.model._meta.verbose_name_plural
            return bad_request(
                f"the selected rows ({', '.join(selected)[:200]}) are not ids "
                f"of {names}. Select rows in the list and retry."
            )
        return None

    @staticmethod
    def nul_message(where):
        return (
            f"the {where} contains a NUL byte (%00). No field of the console "
            "accepts one (PostgreSQL text cannot hold it); remove it and retry."
        )
