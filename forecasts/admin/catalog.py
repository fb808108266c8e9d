"""What questions are filed under: sources, teams and tags.

Sources are public statements anyone signed in may see; teams and tags are listed as
forecasts/access.py allows (a tag used only on a team's questions stays within that team).
"""

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html

from forecasts.access import sources_visible_to, tags_visible_to, teams_visible_to
from forecasts.admin.calibration import calibration_panel
from forecasts.admin.support import URL_INPUT, track_record_url
from forecasts.models import TeamMembership
from forecasts.services import source_create, team_crowd_method_apply


class SourceAdmin(admin.ModelAdmin):
    formfield_overrides = URL_INPUT
    list_display = ["name", "kind", "track_record", "url", "created_by", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["created_by"]
    search_fields = ["name", "description", "url"]
    fields = ["name", "kind", "url", "description", "aliases", "calibration"]
    readonly_fields = ["calibration"]

    def get_queryset(self, request):
        return sources_visible_to(request.user, super().get_queryset(request))

    @admin.display(description="track record")
    def track_record(self, source):
        return format_html('<a href="{}">Track record</a>', track_record_url(source_id=source.pk))

    @admin.display(description="calibration")
    def calibration(self, source):
        return calibration_panel(source=source)

    def save_form(self, request, form, change):
        source = super().save_form(request, form, change)
        if change:
            return source
        return source_create(
            created_by=request.user, name=source.name, kind=source.kind, url=source.url, description=source.description
        )

    def save_model(self, request, obj, form, change):
        if change:  # a new source was saved by source_create
            super().save_model(request, obj, form, change)


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 1
    fields = ["user", "joined_at"]
    readonly_fields = ["joined_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "crowd_method", "member_count", "crowd_hidden_default", "created_at"]
    search_fields = ["name"]
    fields = ["name", "crowd_method", "crowd_hidden_default"]
    inlines = [TeamMembershipInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "crowd_method" in form.changed_data:
            team_crowd_method_apply(team_id=obj.pk)

    def get_queryset(self, request):
        visible = teams_visible_to(request.user, super().get_queryset(request))
        return visible.annotate(member_count=Count("memberships"))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, team):
        return team.member_count


class TagAdmin(admin.ModelAdmin):
    """Tags, including in the autocomplete that searches them: only those of visible questions."""

    list_display = ["name"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return tags_visible_to(request.user, super().get_queryset(request))
