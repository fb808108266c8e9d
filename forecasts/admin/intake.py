""" "New from a report" on the question list: paste or upload a report, review its statements, create drafts.

Three steps on one URL: the report form; the review table (every candidate statement, ticked,
editable, its quote highlighted in the report below); then the drafts, created in one transaction
by forecasts.services.report_accept, and the question list filtered to them.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import formset_factory
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from forecasts.access import sources_visible_to
from forecasts.admin.forms import phrase_select_choices
from forecasts.intake import HEDGES, MAX_TEXT_LENGTH, report_text
from forecasts.intake.likelihood import NEVER_NEGATED, negated
from forecasts.models import Question
from forecasts.selectors import report_statements_for
from forecasts.services import report_accept

REPORT_TEMPLATE = "admin/forecasts/question/from_report.html"
REVIEW_TEMPLATE = "admin/forecasts/question/from_report_review.html"
UPLOAD_SUFFIXES = (".txt", ".html", ".htm")
NEW_SOURCE = ""


def hedge_choices() -> list:
    """Every hedge the extraction can answer, negated ones too ("not is expected to"), as 'hedge:phrase'."""
    entries = [entry for _, entry, _, _ in HEDGES]
    entries += [negated(entry) for entry in entries if entry.phrase not in NEVER_NEGATED]
    labels = [
        (f"hedge:{entry.phrase}", f"{entry.phrase} (hedge, {entry.low:.0%}-{entry.high:.0%})") for entry in entries
    ]
    return [("Hedges (confirm the number)", labels)]


class ReportForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "cols": 100}),
        required=False,
        max_length=MAX_TEXT_LENGTH,
        help_text="Paste the report's text or its page's HTML, or upload a file below.",
    )
    upload = forms.FileField(required=False, label="or upload", help_text="A .txt or .html file.")
    published_at = forms.DateField(
        label="Published", widget=forms.DateInput(attrs={"type": "date"}), help_text="Windows are read against it."
    )
    url = forms.URLField(
        label="Report URL",
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"size": 80}),
        help_text="Each statement is recorded with it.",
    )
    publisher = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"size": 40}))

    def clean(self):
        data = super().clean()
        upload = data.get("upload")
        if upload:
            if not upload.name.lower().endswith(UPLOAD_SUFFIXES):
                self.add_error("upload", "Upload a .txt or .html file.")
                return data
            data["text"] = upload.read(MAX_TEXT_LENGTH * 4 + 1).decode("utf-8", errors="replace")
        data["text"] = report_text(data.get("text") or "")
        if not data["text"]:
            self.add_error("text", "Paste the report's text or upload a file.")
        elif len(data["text"]) > MAX_TEXT_LENGTH:
            self.add_error("text", f"At most {MAX_TEXT_LENGTH:,} characters.")
        if data.get("published_at") and data["published_at"] > timezone.now().date():
            self.add_error("published_at", "A report cannot be published in the future.")
        return data


class ReviewedReportForm(forms.Form):
    """The report, carried through the review in hidden fields."""

    text = forms.CharField(widget=forms.HiddenInput, max_length=MAX_TEXT_LENGTH, strip=False)
    published_at = forms.DateField(widget=forms.HiddenInput)
    url = forms.URLField(widget=forms.HiddenInput, max_length=500)
    publisher = forms.CharField(widget=forms.HiddenInput, required=False, max_length=200)


class StatementForm(forms.Form):
    include = forms.BooleanField(required=False, initial=True, label="Create")
    quote = forms.CharField(widget=forms.HiddenInput)
    start = forms.IntegerField(widget=forms.HiddenInput, required=False)
    title = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 4, "cols": 30}))
    speaker = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"size": 22}))
    source = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    phrase = forms.ChoiceField()
    probability = forms.FloatField(
        min_value=0.001,
        max_value=0.999,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.01", "style": "width: 5em"}),
    )
    window_start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    window_end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    window_text = forms.CharField(required=False, widget=forms.HiddenInput)
    window_is_vague = forms.BooleanField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=Question.Kind.choices)
    resolution_criteria = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 30}))

    def __init__(self, *args, source_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [(NEW_SOURCE, "new source: the speaker"), *source_choices]
        self.fields["phrase"].choices = [*phrase_select_choices()[1:], *hedge_choices()]

    def statement(self) -> dict:
        """The row in the service's vocabulary: a yardstick phrase, or a hedge with its number."""
        data = self.cleaned_data
        yardstick, _, phrase = data["phrase"].partition(":")
        return {
            "quote": data["quote"],
            "speaker": data["speaker"],
            "source": data["source"],
            "phrase": phrase,
            "yardstick": yardstick,
            "probability": data["probability"],
            "window_start": data["window_start"],
            "window_end": data["window_end"],
            "kind": data["kind"],
            "title": data["title"],
            "resolution_criteria": data["resolution_criteria"],
        }


StatementFormSet = formset_factory(StatementForm, extra=0)


def initial_row(statement) -> dict:
    return {
        "include": True,
        "quote": statement.quote,
        "start": statement.start,
        "title": statement.title,
        "speaker": statement.speaker,
        "source": statement.source if statement.source is not None else NEW_SOURCE,
        "phrase": f"{statement.yardstick}:{statement.phrase}",
        "probability": statement.probability,
        "window_start": statement.window_start,
        "window_end": statement.window_end,
        "window_text": statement.window_text,
        "window_is_vague": statement.window_is_vague,
        "kind": statement.kind,
        "resolution_criteria": statement.resolution_criteria,
    }


def highlighted(text: str, rows) -> list[tuple[str, int | None]]:
    """The report cut into (piece, row number) pairs: the quoted pieces carry their row's number."""
    spans = []
    for number, row in enumerate(rows, start=1):
        quote = row["quote"]
        start = row.get("start")
        if start is None or text[start : start + len(quote)] != quote:
            start = text.find(quote)
        if start >= 0:
            spans.append((start, start + len(quote), number))
    pieces, cursor = [], 0
    for start, end, number in sorted(spans):
        if start < cursor:
            continue
        pieces += [(text[cursor:start], None), (text[start:end], number)]
        cursor = end
    pieces.append((text[cursor:], None))
    return [piece for piece in pieces if piece[0]]


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def acceptance_summary(result) -> str:
    """What accepting did, in words: drafts, closed records of past statements, and repeats."""
    drafts = len(result.created_ids) - len(result.closed_ids)
    parts = []
    if drafts:
        parts.append(f"{counted(drafts, 'draft question')} (open each to publish it)")
    if result.closed_ids:
        parts.append(f"{counted(len(result.closed_ids), 'closed question')} ready to resolve (their windows had ended)")
    summary = f"Created {' and '.join(parts)} from the report." if parts else "Nothing new was created."
    existing = len(result.question_ids) - len(result.created_ids)
    if existing:
        summary += f" {counted(existing, 'statement')} had been created from this report before: listed too."
    return summary


class ReportIntakeMixin:
    """The question admin's "New from a report" pages."""

    def intake_urls(self) -> list:
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [path("from-report/", self.admin_site.admin_view(self.from_report_view), name=f"{name}_from_report")]

    def source_choices(self, request) -> list:
        return list(sources_visible_to(request.user).values_list("id", "name"))

    def intake_context(self, request, **extra) -> dict:
        # The review table needs the page's whole width: no navigation sidebar here.
        context = {**self.admin_site.each_context(request), "is_nav_sidebar_enabled": False}
        return {**context, "opts": self.opts, "title": "New from a report", **extra}

    def from_report_view(self, request):
        """Paste or upload a report; review its statements; create the chosen ones as drafts."""
        if not request.user.has_perm("forecasts.add_question"):
            raise PermissionDenied
        step = request.POST.get("step") if request.method == "POST" else None
        if step == "accept":
            return self.accept_step(request)
        form = ReportForm(request.POST or None, request.FILES or None)
        if step == "extract" and form.is_valid():
            data = form.cleaned_data
            found = report_statements_for(request.user, text=data["text"], published_at=data["published_at"])
            rows = [initial_row(statement) for statement in found]
            report = ReviewedReportForm(
                initial={key: data[key] for key in ("text", "published_at", "url", "publisher")}
            )
            formset = StatementFormSet(initial=rows, form_kwargs={"source_choices": self.source_choices(request)})
            return self.review(request, report, formset, data["text"], rows)
        return TemplateResponse(request, REPORT_TEMPLATE, self.intake_context(request, form=form))

    def review(self, request, report, formset, text, rows, status=200):
        context = self.intake_context(
            request,
            title="Review the report's statements",
            report=report,
            formset=formset,
            pieces=highlighted(text, rows),
            published_at=report.initial.get("published_at") or report.data.get("published_at"),
        )
        return TemplateResponse(request, REVIEW_TEMPLATE, context, status=status)

    def accept_step(self, request):
        report = ReviewedReportForm(request.POST)
        formset = StatementFormSet(request.POST, form_kwargs={"source_choices": self.source_choices(request)})
        if not report.is_valid():
            messages.error(request, "The report was lost on the way; paste it again.")
            return HttpResponseRedirect(reverse("admin:forecasts_question_from_report"))
        text = report.cleaned_data["text"]
        rows = [{"quote": form["quote"].value(), "start": form["start"].value()} for form in formset.forms]
        for row in rows:
            row["start"] = int(row["start"]) if str(row["start"] or "").isdigit() else None
        if not formset.is_valid():
            chosen = [form for form in formset.forms if form["include"].value()]
            if any(form.errors for form in chosen):
                return self.review(request, report, formset, text, rows, status=400)
        chosen = [form for form in formset.forms if form.is_valid() and form.cleaned_data.get("include")]
        if not chosen:
            formset._non_form_errors = formset.error_class(["Tick at least one statement to create."])
            return self.review(request, report, formset, text, rows, status=400)
        try:
            result = report_accept(
                owner=request.user,
                text=text,
                published_at=report.cleaned_data["published_at"],
                url=report.cleaned_data["url"],
                publisher=report.cleaned_data["publisher"],
                statements=[form.statement() for form in chosen],
            )
        except ValidationError as error:
            self.statement_errors(report, chosen, error)
            return self.review(request, report, formset, text, rows, status=400)
        messages.success(request, acceptance_summary(result))
        ids = ",".join(str(pk) for pk in result.question_ids)
        return HttpResponseRedirect(f"{reverse('admin:forecasts_question_changelist')}?id__in={ids}")

    @staticmethod
    def statement_errors(report, chosen, error: ValidationError) -> None:
        """The service's `statements.N.field` errors on the N-th ticked row's field."""
        for name, messages_ in error.message_dict.items():
            parts = name.split(".")
            if parts[0] == "statements" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(chosen):
                form = chosen[int(parts[1])]
                field = parts[2] if parts[2] in form.fields else None
                form.add_error(field, messages_)
            else:
                report.add_error(None, messages_)
