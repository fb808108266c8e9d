"""The forecast import page: upload a file of another tracker (or another Forewarn) and see every bad row.

The page hands the file to `forecasts_import`, the service `manage.py import_forecasts` uses, and
needs the permission to file a question: an import files questions.
"""

from django import forms
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from forecasts.access import teams_visible_to
from forecasts.import_formats import FORMAT_LABELS
from forecasts.services import ImportFailed, forecasts_import

IMPORT_TEMPLATE = "admin/forecasts/forecast/import.html"
IMPORT_PERMISSION = "forecasts.add_question"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
ERRORS_SHOWN = 500


class ForecastImportForm(forms.Form):
    file = forms.FileField(help_text="CSV or JSON, UTF-8, at most 50 MB.")
    format = forms.ChoiceField(choices=list(FORMAT_LABELS.items()), initial="fatebook")
    team = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="No team (visible to everyone)",
        help_text="The imported questions belong to this team; you own them.",
    )
    dry_run = forms.BooleanField(
        required=False, label="Dry run", help_text="Check the file and count what it would import; write nothing."
    )
    partial = forms.BooleanField(
        required=False,
        label="Keep the good rows",
        help_text="Import the good rows of a file with bad ones (otherwise a bad row stops the whole file).",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_visible_to(user).order_by("name")

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 50 MB: import it with manage.py import_forecasts.")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise forms.ValidationError("The file is not UTF-8 text.") from error


def forecast_import_view(model_admin, request):
    """Upload a file and import it; show what was imported, or each bad row with its line."""
    if not request.user.has_perm(IMPORT_PERMISSION):
        raise PermissionDenied
    form = ForecastImportForm(request.POST or None, request.FILES or None, user=request.user)
    report = failed = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = forecasts_import(
                text=data["file"],
                fmt=data["format"],
                owner=request.user,
                team=data["team"],
                dry_run=data["dry_run"],
                partial=data["partial"],
            )
        except ImportFailed as failure:
            report, failed = failure.report, True
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Import forecasts",
        "opts": model_admin.opts,
        "form": form,
        "report": report,
        "failed": failed,
        "errors_shown": report.errors[:ERRORS_SHOWN] if report else [],
        "errors_hidden": max(0, len(report.errors) - ERRORS_SHOWN) if report else 0,
        "formats": FORMAT_LABELS,
    }
    return TemplateResponse(request, IMPORT_TEMPLATE, context)
