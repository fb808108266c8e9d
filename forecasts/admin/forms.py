"""Admin workbench forms: each one collects input and hands every write to a service."""

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse_lazy
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify

from forecasts.access import sources_visible_to, teams_visible_to
from forecasts.estimative import phrase_choices
from forecasts.forecast_input import MAX_INPUT_LENGTH, UnreadableForecast, forecast_read
from forecasts.models import YEAR_BOUNDS_MESSAGE, Confidence, Forecast, Question, Source, within_year_bounds
from forecasts.services import (
    EDITABLE_FIELDS,
    forecast_submit,
    group_create,
    question_create,
    question_open,
    question_update,
)


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
        if adding and "crowd_hidden" in self.fields:
            crowd_hidden = self.fields["crowd_hidden"]
            crowd_hidden.required = False
            crowd_hidden.choices = [("", "The team's default (never without a team)"), *Question.CrowdHidden.choices]
            self.initial["crowd_hidden"] = ""
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
        (None, {"fields": ["forecast", "rationale", "confidence"]}),
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
        arguments = {"forecast": data["forecast"], "rationale": data["rationale"], "confidence": data["confidence"]}
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


# Question groups -------------------------------------------------------------------------------


def one_box_input(text: str) -> dict:
    """What a forecaster typed in one box, as the question API's input: '30%' or '30' is a percent,
    '0.3' a probability, 'likely' (or 'kent: probable') an estimative phrase."""
    text = " ".join(text.split())
    number = text.removesuffix("%").strip()
    try:
        value = float(number)
    except ValueError:
        yardstick, colon, phrase = text.partition(":")
        return {"phrase": phrase.strip(), "yardstick": yardstick.strip()} if colon else {"phrase": text}
    if text.endswith("%") or value > 1:
        return {"percent": value}
    return {"probability": value}


def group_error_name(name: str, prefix: str) -> tuple[str, str]:
    """('window_ends', 'Line 2: ') for a service's `window_ends.1`; ('member_2', '') for `forecasts.2.phrase`;
    ('', 'Member 2: ') for `members.1.outcome` (above the form)."""
    head, _, rest = name.partition(".")
    index = rest.split(".", 1)[0]
    if head == "forecasts" and index.isdigit():
        return f"{prefix}{index}", ""
    if head == "members" and index.isdigit():
        return "", f"Member {int(index) + 1}: "
    if index.isdigit():
        return head, f"Line {int(index) + 1}: "
    return head, ""


def add_group_errors(form: forms.BaseForm, error: ValidationError, prefix: str = "member_") -> None:
    """A group service's errors on the form: a member's on its box, a list item's on its list."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.error_dict.items():
        field, lead = group_error_name(name, prefix)
        messages = [f"{lead}{message}" for item in errors for message in item.messages]
        form.add_error(field if field in form.fields else None, messages)


def moments_from_lines(text: str) -> list:
    """One window end per line: a date means the end of that day (00:00 UTC the next day)."""
    moments = []
    for number, line in enumerate((line.strip() for line in text.splitlines() if line.strip()), start=1):
        day = parse_date(line) if len(line) == 10 else None
        moment = parse_datetime(line) if day is None else None
        if day is not None:
            moments.append(datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC))
        elif moment is not None:
            moments.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        else:
            raise ValidationError(f"Line {number}: give a date (2022-02-15) or a date and time (2022-02-15 18:00).")
        if not within_year_bounds(moments[-1]):
            raise ValidationError(f"Line {number}: {YEAR_BOUNDS_MESSAGE}")
    return moments


class GroupAddForm(forms.Form):
    """File a question group: a `when` ladder (dates, one per line) or a `which` set (options, one per line)."""

    kind = forms.ChoiceField(
        choices=[("when", "When: one event, nested windows"), ("which", "Which one: exclusive options")],
        widget=forms.RadioSelect(attrs={"class": "radiolist inline"}),
        initial="when",
    )
    title = forms.CharField(max_length=250, widget=forms.TextInput(attrs={"size": 80}))
    details = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))
    resolution_criteria = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))
    question_kind = forms.ChoiceField(choices=Question.Kind.choices, initial=Question.Kind.OTHER, label="Members' kind")
    tags = forms.CharField(required=False, help_text="Comma-separated, for example: ukraine, black-sea.")
    team = forms.ModelChoiceField(queryset=None, required=False, help_text="Leave blank for everyone.")
    window_start = datetime_field(label="Window start", help_text="Shared by every member (UTC); optional.")
    window_ends = forms.CharField(
        required=False,
        label="When: dates",
        widget=forms.Textarea(
            attrs={"rows": 4, "cols": 40, "placeholder": "For example:\n2022-02-15\n2022-02-28\n2022-03-31"}
        ),
        help_text="One per line, in order. A date means by the end of that day (UTC); or give a date and time.",
    )
    window_end = datetime_field(label="Which: window end", help_text="Shared by every option (UTC).")
    options = forms.CharField(
        required=False,
        label="Which: options",
        widget=forms.Textarea(
            attrs={"rows": 4, "cols": 40, "placeholder": "For example:\nFrom the north\nFrom the east"}
        ),
        help_text="One per line: mutually exclusive, and together every possibility.",
    )
    source = forms.ModelChoiceField(queryset=None, required=False)
    source_quote = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 80}))
    source_statement_date = forms.DateField(required=False, widget=widgets.AdminDateWidget)
    source_url = forms.URLField(required=False, max_length=500, assume_scheme="https", label="Source URL")
    draft = forms.BooleanField(required=False, label="Save as drafts", help_text="No forecasts until opened.")

    fieldsets = [
        (None, {"fields": ["kind", "title", "details", "resolution_criteria", "question_kind", "tags", "team"]}),
        ("Window", {"fields": ["window_start", "window_ends", "window_end", "options"]}),
        ("Source statement", {"fields": ["source", "source_quote", "source_statement_date", "source_url"]}),
        (None, {"fields": ["draft"]}),
    ]

    group = None  # the saved group once the form is valid

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["team"].queryset = teams_visible_to(user)
        self.fields["source"].queryset = sources_visible_to(user)

    def clean_window_ends(self):
        return moments_from_lines(self.cleaned_data["window_ends"])

    def clean_options(self):
        return [line.strip() for line in self.cleaned_data["options"].splitlines() if line.strip()]

    def _post_clean(self):
        if self._errors:
            return
        data = dict(self.cleaned_data)
        data["tags"] = tag_names_from_text(data["tags"])
        if data["kind"] == "when":
            data.pop("options"), data.pop("window_end")
        else:
            data.pop("window_ends")
        try:
            with transaction.atomic():
                self.group = group_create(owner=self.user, **data)
        except ValidationError as error:
            add_group_errors(self, error)


class GroupForecastForm(forms.Form):
    """One box per member, on one row: a probability, a percent or an estimative phrase."""

    normalize = forms.BooleanField(required=False, label="Scale the options to sum to 100%")
    rationale = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))

    def __init__(self, *args, members, kind, **kwargs):
        super().__init__(*args, **kwargs)
        self.member_names = []
        for member in members:
            name = f"member_{member.group_position}"
            label = member.option_label or member.title.rsplit(": ", 1)[-1]
            self.fields[name] = forms.CharField(
                label=label, max_length=60, widget=forms.TextInput(attrs={"size": 10, "placeholder": "30%"})
            )
            self.member_names.append(name)
        if kind != "which":
            del self.fields["normalize"]

    def member_fields(self):
        return [self[name] for name in self.member_names]

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "inputs": [one_box_input(data[name]) for name in self.member_names],
            "field": "forecasts",
            "normalize": data.get("normalize", False),
            "rationale": data["rationale"],
        }


class GroupResolveForm(forms.Form):
    """The group's outcome in one action: when the event occurred (or not by the last date), or which option won."""

    occurred_on = forms.DateField(
        required=False, widget=widgets.AdminDateWidget, label="Event occurred on", help_text="The day (UTC)."
    )
    not_by = forms.BooleanField(required=False, label="Did not occur by the last date")
    option = forms.TypedChoiceField(coerce=int, required=False, widget=forms.RadioSelect, label="Winning option")
    annul = forms.BooleanField(required=False, label="Annul the whole group instead", help_text="Nobody is scored.")
    evidence_url = forms.URLField(required=False, max_length=500, assume_scheme="https", label="Evidence URL")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))

    def __init__(self, *args, kind, members, **kwargs):
        super().__init__(*args, **kwargs)
        if kind == "when":
            del self.fields["option"]
            outcome = ["occurred_on", "not_by"]
        else:
            del self.fields["occurred_on"], self.fields["not_by"]
            self.fields["option"].choices = [(member.group_position, member.option_label) for member in members]
            outcome = ["option"]
        self.fieldsets = [(None, {"fields": [*outcome, "annul", "evidence_url", "note"]})]

    def clean(self):
        data = super().clean()
        if not data.get("evidence_url") and not data.get("note", "").strip() and "evidence_url" not in self.errors:
            self.add_error("evidence_url", "Give the evidence: a URL, a note, or both.")
        return data

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        arguments = {"evidence_url": data["evidence_url"], "note": data["note"]}
        if data.get("annul"):
            return arguments
        if "option" in self.fields:
            return {**arguments, "option": data.get("option")}
        return {**arguments, "occurred_on": data.get("occurred_on"), "not_by": data.get("not_by", False)}
