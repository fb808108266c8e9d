"""The admin's inbox: each user's own notifications with an unread count, and delivery records for operators.

A notice shows only while forecasts/access.py lets its user see its question: a member removed
from a team stops seeing that team's notices at once, even those created before the removal.
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from forecasts.access import notifications_visible_to
from forecasts.admin.support import ReadOnlyAdminMixin, short_datetime
from forecasts.models import Notification
from forecasts.services import notification_update_url, notifications_mark_read


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", "Unread"), ("yes", "Read")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


class NotificationAdmin(admin.ModelAdmin):
    list_display = ["marker", "kind", "question_link", "message", "update_link", "created_at_short", "emailed_at"]
    list_display_links = ["kind"]
    list_filter = [ReadFilter, "kind"]
    search_fields = ["message", "question__title"]
    actions = ["mark_read", "mark_unread"]
    fields = ["kind", "question_link", "message", "update_link", "round", "created_at", "emailed_at", "read_at"]
    readonly_fields = fields
    list_per_page = 50

    def get_queryset(self, request):
        visible = notifications_visible_to(request.user, super().get_queryset(request))
        return visible.filter(channel=Notification.Channel.IN_APP).select_related("question")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="")
    def marker(self, notification):
        return "●" if notification.read_at is None else ""

    @admin.display(description="question", ordering="question__title")
    def question_link(self, notification):
        if notification.question_id is None:
            return "—"
        url = reverse("admin:forecasts_question_change", args=[notification.question_id])
        return format_html('<a href="{}">{}</a>', url, notification.question.title)

    @admin.display(description="update")
    def update_link(self, notification):
        url = notification_update_url(notification)
        return format_html('<a href="{}">Update your forecast</a>', url) if url else ""

    @admin.display(description="created", ordering="created_at")
    def created_at_short(self, notification):
        return short_datetime(notification.created_at)

    @admin.display(description="emailed", ordering="sent_at")
    def emailed_at(self, notification):
        return short_datetime(notification.sent_at) if notification.sent_at else None

    @admin.action(description="Mark selected notifications read")
    def mark_read(self, request, queryset):
        changed = notifications_mark_read(user=request.user, notification_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{changed} notification(s) marked read.", messages.SUCCESS)

    @admin.action(description="Mark selected notifications unread")
    def mark_unread(self, request, queryset):
        changed = notifications_mark_read(
            user=request.user, notification_ids=queryset.values_list("pk", flat=True), read=False
        )
        self.message_user(request, f"{changed} notification(s) marked unread.", messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        unread = self.get_queryset(request).filter(read_at__isnull=True).count()
        # The calendar feed's secret address lives on the settings page, behind a copy button.
        extra_context = {
            "title": f"Your notifications: {unread} unread",
            "settings_url": reverse("admin:settings"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and object_id.isdigit():
            notifications_mark_read(user=request.user, notification_ids=[int(object_id)])
        return super().change_view(request, object_id, form_url, extra_context)


class DeliveryRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only delivery records: what went out, what failed and why."""

    list_filter = ["status"]
    date_hierarchy = "created_at"

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


class DigestDeliveryAdmin(DeliveryRecordAdmin):
    list_display = ["pk", "user", "status", "created_at", "sent_at", "attempts", "last_error"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]


class WebhookDeliveryAdmin(DeliveryRecordAdmin):
    list_display = ["pk", "notification", "url", "status", "created_at", "sent_at", "attempts", "last_error"]
    list_select_related = ["notification__user"]
    search_fields = ["url"]
