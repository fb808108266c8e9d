"""The workbench's question groups: file a ladder or a set, forecast every member on one row, see
the crowd's implied distribution as a chart, and resolve, annul or undo the whole group at once.

Every write goes through forecasts.services (group_create, group_forecast_submit, group_resolve,
group_annul, group_unresolve). Every page shows only what forecasts/access.py lets the user see,
and a group the user may not see is the same 404 page as one that does not exist.
"""

from datetime import UTC, time

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from forecasts import charts
from forecasts.access import NO_SUCH_GROUP, group_or_404, groups_visible_to, user_can_resolve_group
from forecasts.admin.forms import GroupAddForm, GroupForecastForm, GroupResolveForm, UnresolveForm, add_group_errors
from forecasts.admin.support import as_percent, not_found_as_page, short_datetime
from forecasts.models import Question, QuestionGroup
from forecasts.selectors import group_distribution, groups_as_listed_for
from forecasts.services import group_annul, group_forecast_submit, group_resolve, group_unresolve, last_day

GROUP_ACTION_TEMPLATE = "admin/forecasts/questiongroup/group_action.html"
FINAL = (Question.Status.RESOLVED, Question.Status.ANNULLED)


def member_label(member: Question) -> str:
    """'by 15 Feb 2022' for a rung, the option's label for an option."""
    return member.option_label or member.title.rsplit(": ", 1)[-1]


def window_end_text(window_end) -> str:
    """'end of 15 Feb 2022' for a window ending at midnight UTC, else the moment itself."""
    moment = window_end.astimezone(UTC)
    if moment.timetz() == time.min.replace(tzinfo=UTC):
        return f"end of {last_day(moment):%-d %b %Y}"
    return short_datetime(window_end)


def resolution_text(group: QuestionGroup, members: list[Question]) -> str:
    """How the whole group resolved, in a sentence; '' while any member is not final."""
    if not members or any(member.status not in FINAL for member in members):
        return ""
    if all(member.status == Question.Status.ANNULLED for member in members):
        return "Annulled: nobody is scored."
    outcomes = ", ".join(member.get_outcome_display().upper() for member in members)
    if group.kind == "which":
        winner = next((member_label(member) for member in members if member.outcome == "yes"), "none")
        return f"Resolved: {winner} ({outcomes})."
    occurred = next((member.occurred_at for member in members if member.outcome == "yes"), None)
    if occurred is None:
        return f"Resolved: the event did not occur by the last date ({outcomes})."
    return f"Resolved: the event occurred on {occurred:%-d %B %Y %H:%M} UTC ({outcomes})."


class QuestionGroupAdmin(admin.ModelAdmin):
    """Groups are filed here and then read-only: each member is edited on its own question page."""

    change_form_template = "admin/forecasts/questiongroup/change_form.html"
    list_display = ["title", "kind", "status", "member_count", "owner", "created"]
    list_filter = ["kind", "status"]
    search_fields = ["title", "details"]
    list_per_page = 50
    fields = ["kind", "title", "status", "owner", "team", "details", "resolution_criteria", "statement"]
    readonly_fields = fields

    # A group is filed as questions: the question permissions decide who may do what.
    def has_module_permission(self, request):
        return request.user.has_perm("forecasts.view_question")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("forecasts.view_question")

    def has_add_permission(self, request):
        return request.user.has_perm("forecasts.add_question")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return groups_visible_to(request.user, groups_as_listed_for(request.user))

    def get_object(self, request, object_id, from_field=None):
        return group_or_404(request.user, object_id, queryset=groups_as_listed_for(request.user))

    @admin.display(description="members")
    def member_count(self, group):
        return len(group.listed_members)

    @admin.display(description="filed", ordering="created_at")
    def created(self, group):
        return short_datetime(group.created_at)

    @admin.display(description="source statement")
    def statement(self, group):
        if not group.source_id:
            return "–"
        return format_html("{}: “{}” ({})", group.source, group.source_quote, group.source_statement_date or "undated")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context.update(self.group_tools(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def group_tools(self, request, group) -> dict:
        """The members, the implied distribution and what the user may do, for the group's pages."""
        members = group.listed_members
        statuses = {member.status for member in members}
        may_resolve = user_can_resolve_group(request.user, group)
        distribution = group_distribution(group)
        first = members[0] if members else None
        window = ""
        if first is not None:
            start = f"window opens: {short_datetime(first.window_start)} UTC" if first.window_start else ""
            end = f"window closes: {window_end_text(first.window_end)} UTC" if group.kind == "which" else ""
            window = "; ".join(part for part in (start, end) if part)
        rows = [
            {
                "member": member,
                "label": member_label(member),
                "url": reverse("admin:forecasts_question_change", args=[member.pk]),
                "crowd": as_percent(raw),
                "coherent": as_percent(coherent),
                "mine": as_percent(member.my_probability),
            }
            for member, raw, coherent in zip(members, distribution.raw, distribution.coherent, strict=True)
        ]
        return {
            "group": group,
            "members": rows,
            "window": window,
            "distribution": distribution,
            "largest_difference": as_percent(distribution.largest_difference),
            "not_by_last": as_percent(1 - distribution.coherent[-1])
            if group.kind == "when" and distribution.coherent[-1] is not None
            else None,
            "resolution": resolution_text(group, members),
            "can_forecast": statuses == {Question.Status.OPEN} and request.user.has_perm("forecasts.add_forecast"),
            "can_resolve": may_resolve and not statuses & set(FINAL),
            "can_unresolve": may_resolve and statuses <= set(FINAL),
        }

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        patterns = [
            path("add/", view(self.group_add_view), name=f"{name}_add"),
            path("<path:object_id>/forecast/", view(self.forecast_view), name=f"{name}_forecast"),
            path("<path:object_id>/resolve/", view(self.resolve_view), name=f"{name}_resolve"),
            path("<path:object_id>/unresolve/", view(self.unresolve_view), name=f"{name}_unresolve"),
            path("<path:object_id>/chart.svg", view(self.chart_view), name=f"{name}_chart"),
            *super().get_urls(),
        ]
        for pattern in patterns:
            pattern.callback = self.not_found_as_page(pattern.callback)
        return patterns

    def not_found_as_page(self, view):
        """A hidden or missing group answers with the admin's own 404 page."""
        return not_found_as_page(self, view, title=NO_SUCH_GROUP)

    def visible_group_or_404(self, request, object_id) -> QuestionGroup:
        group = self.get_object(request, unquote(object_id))
        if not self.has_view_permission(request, group):
            raise PermissionDenied
        return group

    def redirect_to_group(self, group) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:forecasts_questiongroup_change", args=[group.pk]))

    def group_add_view(self, request, form_url="", extra_context=None):
        """File a group: dates or options as a list, one member question each."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = GroupAddForm(request.POST if request.method == "POST" else None, user=request.user)
        if request.method == "POST" and form.is_valid():
            group = form.group
            self.message_user(request, f"Filed “{group}” with its member questions.", messages.SUCCESS)
            return self.redirect_to_group(group)
        return self.render_group_action(request, None, form, title="File a question group", submit_label="File")

    def forecast_view(self, request, object_id):
        """Forecast every member at once, one box each."""
        group = self.visible_group_or_404(request, object_id)
        if not request.user.has_perm("forecasts.add_forecast"):
            raise PermissionDenied
        tools = self.group_tools(request, group)
        if not tools["can_forecast"]:
            self.message_user(request, "Only a group whose members are all open takes forecasts.", messages.WARNING)
            return self.redirect_to_group(group)
        members = group.listed_members
        form = GroupForecastForm(
            request.POST if request.method == "POST" else None,
            members=members,
            kind=group.kind,
            initial={f"member_{row['member'].group_position}": row["mine"] for row in tools["members"] if row["mine"]},
        )
        if request.method == "POST" and form.is_valid():
            try:
                group_forecast_submit(group=group, recorded_by=request.user, **form.service_arguments())
            except ValidationError as error:
                add_group_errors(form, error)
            else:
                self.message_user(request, "Recorded your forecast on every member.", messages.SUCCESS)
                return self.redirect_to_group(group)
        return self.render_group_action(
            request, group, form, title="Forecast the group", submit_label="Record forecasts", one_row=True
        )

    def resolve_view(self, request, object_id):
        """Resolve the whole group in one action (or annul it), with evidence."""
        group = self.visible_group_or_404(request, object_id)
        if not user_can_resolve_group(request.user, group):
            raise PermissionDenied
        members = group.listed_members
        if any(member.status in FINAL for member in members):
            # The link is hidden once a member is final; an old tab or a typed URL lands here.
            message = "This group is already resolved: undo its resolution first to resolve it again."
            self.message_user(request, message, messages.WARNING)
            return self.redirect_to_group(group)
        form = GroupResolveForm(request.POST if request.method == "POST" else None, kind=group.kind, members=members)
        if request.method == "POST" and form.is_valid():
            try:
                if form.cleaned_data.get("annul"):
                    group_annul(group=group, actor=request.user, **form.service_arguments())
                else:
                    group_resolve(group=group, actor=request.user, **form.service_arguments())
            except ValidationError as error:
                add_group_errors(form, error)
            else:
                self.message_user(request, "Resolved every member of the group.", messages.SUCCESS)
                return self.redirect_to_group(group)
        return self.render_group_action(request, group, form, title="Resolve the group", submit_label="Resolve")

    def unresolve_view(self, request, object_id):
        """Undo the resolution of every member, saying why."""
        group = self.visible_group_or_404(request, object_id)
        if not user_can_resolve_group(request.user, group):
            raise PermissionDenied
        form = UnresolveForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                group_unresolve(group=group, actor=request.user, note=form.cleaned_data["note"])
            except ValidationError as error:
                add_group_errors(form, error)
            else:
                self.message_user(request, "Resolution undone on every member.", messages.SUCCESS)
                return self.redirect_to_group(group)
        return self.render_group_action(
            request, group, form, title="Undo the resolution", submit_label="Undo the resolution"
        )

    def chart_view(self, request, object_id):
        """The crowd's implied distribution as SVG: a CDF for a ladder, bars for a set."""
        group = self.visible_group_or_404(request, object_id)
        distribution = group_distribution(group)
        svg = charts.group_distribution_chart_svg(
            kind=group.kind,
            labels=[member_label(member) for member in group.listed_members],
            raw=distribution.raw,
            coherent=distribution.coherent,
        )
        return charts.svg_response(svg)

    def render_group_action(self, request, group, form, *, title, submit_label, one_row=False):
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": str(group) if group else "",
            "opts": self.opts,
            "original": group,
            "form": form,
            "adminform": helpers.AdminForm(form, getattr(form, "fieldsets", [(None, {"fields": []})]), {}),
            "errors": form.errors,
            "media": self.media + form.media,
            "submit_label": submit_label,
            "one_row": one_row,
            "has_view_permission": True,
            **(self.group_tools(request, group) if group else {}),
        }
        return TemplateResponse(request, GROUP_ACTION_TEMPLATE, context)
