"""Admin workbench forms: each one collects input and hands every write to a service."""

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse_lazy
from django.utils.text import slugify

from forecasts.access import sources_visible_to
from forecasts.forecast_input import MAX_INPUT_LENGTH, UnreadableForecast, forecast_read
from forecasts.models import YEAR_BOUNDS_MESSAGE, Question, Source, within_year_bounds
from forecasts.services import EDITABLE_FIELDS, forecast_submit, question_create, question_open, question_update


def add_service_errors(form: forms.BaseForm, error: ValidationError, aliases: dict | None = None) -> None:
    """Show a service's ValidationError on the form's matching fields; the rest go above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    aliases = aliases or {}
    for name, errors in error.error_dict.items():
        name = aliases.get(name, name)
        form.add_error(name if name in form.fields else None, errors)


def tag_names_from_text(text: str) -> list[str]:
    """'Black Sea, ukraine' -> ['black-sea', 'ukraine']: tags are slugs."""
    return [slug for slug in (slugify(name) for name in text.split(",")) if slug]


class ForecastTextField(forms.CharField):
    """The one box: a forecast as typed, read by `forecasts.forecast_input` (and previewed through the API)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Probability of YES")
        kwargs.setdefault("help_text", "Type 70%, 0.7, 3:1, 1 in 4, or a phrase such as likely or very unlikely.")
        super().__init__(max_length=MAX_INPUT_LENGTH, widget=forecast_box_widget(), **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value:
            try:
                forecast_read(value)
            except UnreadableForecast as error:
                raise ValidationError(str(error), code="invalid") from error
        return value


def forecast_box_widget() -> forms.TextInput:
    """A text input (not a number: '70%' and 'likely' must be typable) whose value the page previews."""
    return forms.TextInput(
        attrs={
            "class": "forecast-box",
            "placeholder": "70%, 0.7, 3:1, likely",
            "autocomplete": "off",
            "spellcheck": "false",
            "size": 22,
            "data-preview-url": reverse_lazy("api:forecast-input"),
        }
    )


class QuestionAdminForm(forms.ModelForm):
    """The question add/change form; validating it runs question_create or question_update.

    The service runs during validation so that its ValidationErrors land on the right fields.
    It writes inside a savepoint, so a rejected form leaves nothing behind.
    """

    tags = forms.CharField(
        required=False,
        help_text="Comma-separated, for example: ukraine, black-sea. New tags are created on first use.",
        widget=forms.TextInput(attrs={"size": 60}),
    )
    draft = forms.BooleanField(
        required=False,
        label="Save as a draft",
        help_text="A draft takes no forecasts until you open it.",
    )
    source_url = forms.URLField(required=False, max_length=500, assume_scheme="https", label="Source URL")
    publish = forms.BooleanField(
        required=False,
        label="Open for forecasts",
        help_text="Publish this draft: it starts taking forecasts now.",
    )
    first_forecast = ForecastTextField(
        required=False,
        label="Your first forecast",
        help_text="Optional: your probability of YES, recorded as the question opens (70%, 0.7, 3:1, likely).",
    )

    actor = None  # the requesting user, set by QuestionAdmin.get_form
    question: Question | None = None  # the saved question once the form is valid

    class Meta:
        model = Question
        fields = sorted(EDITABLE_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        adding = self.instance.pk is None
        if adding:
            del self.fields["publish"]
        else:
            del self.fields["draft"]
            del self.fields["first_forecast"]
            self.initial["tags"] = ", ".join(self.instance.tags.values_list("name", flat=True))
            if self.instance.status != Question.Status.DRAFT:
                del self.fields["publish"]
        if adding and "resolve_by" in self.fields:
            self.fields["resolve_by"].required = False
            self.fields["resolve_by"].help_text = "Leave blank for the window end plus the grace period."

    def clean(self):
        data = super().clean()
        if data.get("first_forecast"):
            if data.get("draft"):
                self.add_error(
                    "first_forecast", "A draft takes no forecasts: leave this blank, or do not save as a draft."
                )
            elif self.actor is not None and not self.actor.has_perm("forecasts.add_forecast"):
                self.add_error("first_forecast", "You may file questions but not forecast: leave this blank.")
        return data

    def _post_clean(self):
        # Replaces ModelForm's model validation: the service validates the question as a whole.
        if self._errors:
            return
        try:
            with transaction.atomic():
                self.question = self.save_through_services()
        except ValidationError as error:
            add_service_errors(self, error)

    def save_through_services(self) -> Question:
        data = self.cleaned_data
        tags = tag_names_from_text(data["tags"]) if "tags" in data else None
        if self.instance.pk is None:
            fields = {name: data[name] for name in EDITABLE_FIELDS if name in data}
            question = question_create(owner=self.actor, tags=tags or (), draft=data.get("draft", False), **fields)
            if data.get("first_forecast"):
                try:
                    forecast_submit(question=question, recorded_by=self.actor, forecast=data["first_forecast"])
                except ValidationError as error:
                    raise ValidationError({"first_forecast": error.messages}) from error
            return question
        question = self.instance
        changes = {name: data[name] for name in self.changed_data if name in EDITABLE_FIELDS}
        tags_changed = "tags" in self.changed_data
        if changes or tags_changed:
            question = question_update(
                question=question, actor=self.actor, tags=tags if tags_changed else None, **changes
            )
        if data.get("publish"):
            question = question_open(question=question, actor=self.actor)
        return question


def datetime_field(**kwargs) -> forms.SplitDateTimeField:
    return forms.SplitDateTimeField(required=False, widget=widgets.AdminSplitDateTime, **kwargs)


class ForecastBoxForm(forms.Form):
    """One forecast in one box, with an optional rationale: the question page's and the list's form."""

    forecast = ForecastTextField()
    rationale = forms.CharField(
        required=False, label="Rationale (optional)", widget=forms.Textarea(attrs={"rows": 2, "cols": 60})
    )


class ForecastAddForm(forms.Form):
    """A forecast typed in one box; with a source, a past statement of that source."""

    forecast = ForecastTextField(
        help_text="Type 70%, 0.7, 3:1, 1 in 4, or a phrase such as likely (stored with its yardstick)."
    )
    rationale = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))
    source = forms.ModelChoiceField(
        queryset=Source.objects.none(),
        required=False,
        help_text="Leave blank for your own forecast, stamped now. Choose a source to record its statement.",
    )
    made_at = datetime_field(label="Statement made at", help_text="When the source said it (UTC), in the past.")
    quote = forms.CharField(required=False, label="Quote", widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))
    url = forms.URLField(required=False, label="Statement URL", max_length=500, assume_scheme="https")

    fieldsets = [
        (None, {"fields": ["forecast", "rationale"]}),
        (
            "A source's statement (optional)",
            {
                "fields": ["source", "made_at", "quote", "url"],
                "description": "Record what a public source said, with the date, quote and link.",
            },
        ),
    ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = sources_visible_to(user)

    def clean(self):
        data = super().clean()
        if not data.get("source") and (data.get("quote") or data.get("url")):
            self.add_error("source", "Choose the source whose statement this is, or leave quote and URL blank.")
        return data

    def service_arguments(self) -> dict:
        """Keyword arguments for forecast_submit."""
        data = self.cleaned_data
        arguments = {"forecast": data["forecast"], "rationale": data["rationale"]}
        if data["source"]:
            arguments.update(source=data["source"], made_at=data["made_at"], quote=data["quote"], url=data["url"])
        elif data["made_at"]:
            arguments["made_at"] = data["made_at"]
        return arguments


class ResolveForm(forms.Form):
    """The outcome of a question with the evidence for it."""

    outcome = forms.ChoiceField(
        choices=Question.Outcome.choices,
        widget=forms.RadioSelect(attrs={"class": "radiolist inline"}),
        help_text="YES before the window has closed means the event already happened. Annulled voids the question: nobody is scored.",
    )
    evidence_url = forms.URLField(required=False, max_length=500, assume_scheme="https", label="Evidence URL")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))
    occurred_at = datetime_field(
        label="Event happened at", help_text="Optional, for YES: when the event happened (UTC)."
    )

    fieldsets = [(None, {"fields": ["outcome", "evidence_url", "note", "occurred_at"]})]

    def clean(self):
        data = super().clean()
        if not data.get("evidence_url") and not data.get("note", "").strip() and "evidence_url" not in self.errors:
            self.add_error("evidence_url", "Give the evidence: a URL, a note, or both.")
        if data.get("occurred_at") and data.get("outcome") != Question.Outcome.YES:
            self.add_error("occurred_at", "Only a YES has a moment when the event happened.")
        elif data.get("occurred_at") and not within_year_bounds(data["occurred_at"]):
            self.add_error("occurred_at", YEAR_BOUNDS_MESSAGE)
        return data


class UnresolveForm(forms.Form):
    """Why a resolution is being undone."""

    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Why the resolution is wrong; kept in the question's history.",
    )

    fieldsets = [(None, {"fields": ["note"]})]
