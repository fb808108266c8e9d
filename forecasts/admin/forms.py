"""Admin workbench forms: each one collects input and hands every write to a service."""

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from forecasts.access import sources_visible_to
from forecasts.estimative import phrase_choices
from forecasts.models import YEAR_BOUNDS_MESSAGE, Confidence, Forecast, Question, Source, within_year_bounds
from forecasts.services import EDITABLE_FIELDS, question_create, question_open, question_update


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


def phrase_select_choices() -> list:
    """The estimative phrases grouped by yardstick, for a select whose values are 'yardstick:phrase'."""
    labels = dict(Forecast.Yardstick.choices)
    groups: dict[str, list] = {}
    for value, label in phrase_choices():
        groups.setdefault(labels[value.split(":", 1)[0]], []).append((value, label))
    return [("", "---------"), *groups.items()]


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
            self.initial["tags"] = ", ".join(self.instance.tags.values_list("name", flat=True))
            if self.instance.status != Question.Status.DRAFT:
                del self.fields["publish"]
        if adding and "crowd_hidden" in self.fields:
            crowd_hidden = self.fields["crowd_hidden"]
            crowd_hidden.required = False
            crowd_hidden.choices = [("", "The team's default (never without a team)"), *Question.CrowdHidden.choices]
            self.initial["crowd_hidden"] = ""
        if adding and "resolve_by" in self.fields:
            self.fields["resolve_by"].required = False
            self.fields["resolve_by"].help_text = "Leave blank for the window end plus the grace period."

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
            return question_create(owner=self.actor, tags=tags or (), draft=data.get("draft", False), **fields)
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


class ForecastAddForm(forms.Form):
    """A forecast as probability, percent or phrase; with a source, a past statement of that source."""

    probability = forms.FloatField(required=False, help_text="Between 0.001 and 0.999.")
    percent = forms.FloatField(required=False, help_text="Between 0.1 and 99.9.")
    phrase = forms.ChoiceField(
        required=False,
        label="Estimative phrase",
        choices=phrase_select_choices,
        help_text="Stored with its yardstick; the probability is the midpoint of the phrase's range.",
    )
    rationale = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))
    confidence = forms.ChoiceField(
        required=False,
        label="Analytic confidence",
        choices=[("", "Not given"), *Confidence.choices],
        help_text="How sound the judgement is (evidence, sources, assumptions), apart from how likely.",
    )
    source = forms.ModelChoiceField(
        queryset=Source.objects.none(),
        required=False,
        help_text="Leave blank for your own forecast, stamped now. Choose a source to record its statement.",
    )
    made_at = datetime_field(label="Statement made at", help_text="When the source said it (UTC), in the past.")
    quote = forms.CharField(required=False, label="Quote", widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))
    url = forms.URLField(required=False, label="Statement URL", max_length=500, assume_scheme="https")

    fieldsets = [
        (
            "Probability of YES",
            {"fields": ["probability", "percent", "phrase"], "description": "Give exactly one of the three."},
        ),
        (None, {"fields": ["rationale", "confidence"]}),
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
        yardstick, _, phrase = (data["phrase"] or "").partition(":")
        arguments = {
            "probability": data["probability"],
            "percent": data["percent"],
            "phrase": phrase or None,
            "yardstick": yardstick or None,
            "rationale": data["rationale"],
            "confidence": data["confidence"],
        }
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
