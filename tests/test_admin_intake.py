""" "New from a report" in the admin: paste or upload, review, create drafts, land on the list of them."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from forecasts.models import Question

URL = "/admin/forecasts/question/from-report/"
SEED_DOCUMENT = Path(__file__).resolve().parent.parent / "seeds" / "documents" / "000_235179012322d378.txt"


def review_page(client, **report):
    body = {"step": "extract", "published_at": "2022-01-14", "url": "https://example.org/report", **report}
    return client.post(URL, body)


def accept_body(response, **changes) -> dict:
    """The review form's values as the browser would send them, with changes by row."""
    context = response.context
    body = {"step": "accept"}
    for field in context["report"]:
        body[field.html_name] = field.value()
    formset = context["formset"]
    body.update({f"form-{key}": value for key, value in formset.management_form.initial.items()})
    for form in formset.forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            body[field.html_name] = value
    body.update(changes)
    return body


@pytest.mark.django_db
def test_the_question_list_offers_new_from_a_report(client, forecaster):
    client.force_login(forecaster)
    page = client.get("/admin/forecasts/question/").content.decode()
    assert URL in page and "New from a report" in page
    assert client.get(URL).status_code == 200


@pytest.mark.django_db
def test_the_seed_report_is_reviewed_with_quotes_highlighted_and_created_as_questions(client, forecaster):
    client.force_login(forecaster)
    response = review_page(client, text=SEED_DOCUMENT.read_text(), publisher="Morning Press")
    assert response.status_code == 200
    forms = response.context["formset"].forms
    assert len(forms) >= 6
    page = response.content.decode()
    assert page.count('<mark id="quote-') == len(forms)
    body = accept_body(response, **{"form-1-include": ""})  # untick the second
    body["form-0-title"] = "Will Russia stage a pretext?"
    created = client.post(URL, body)
    assert created.status_code == 302
    assert created["Location"].startswith("/admin/forecasts/question/?id__in=")
    questions = Question.objects.filter(owner=forecaster)
    assert questions.count() == len(forms) - 1
    assert questions.filter(title="Will Russia stage a pretext?").exists()
    assert {q.status for q in questions} == {Question.Status.AWAITING_RESOLUTION}  # 2022 windows have ended
    listing = client.get(created["Location"])
    assert listing.status_code == 200 and "closed question" in listing.content.decode()
    assert client.post(URL, body).status_code == 302
    assert Question.objects.filter(owner=forecaster).count() == len(forms) - 1


@pytest.mark.django_db
def test_an_uploaded_page_becomes_drafts(client, forecaster):
    client.force_login(forecaster)
    published = (timezone.now() - timedelta(days=2)).date().isoformat()
    page = b"<html><body><h1>Talks</h1><p>Mediators said a truce could be signed within the next 30 days.</p></body></html>"
    response = review_page(client, published_at=published, upload=SimpleUploadedFile("report.html", page))
    assert response.status_code == 200
    (form,) = response.context["formset"].forms
    assert form.initial["window_end"] == (timezone.now() - timedelta(days=2)).date() + timedelta(days=30)
    assert client.post(URL, accept_body(response)).status_code == 302
    question = Question.objects.get(owner=forecaster)
    assert question.status == Question.Status.DRAFT and question.forecasts.count() == 1


@pytest.mark.django_db
def test_review_errors_show_on_the_row_and_nothing_is_written(client, forecaster):
    client.force_login(forecaster)
    response = review_page(client, text=SEED_DOCUMENT.read_text())
    body = accept_body(response, **{"form-0-window_end": "2001-01-01", "form-0-window_start": ""})
    answer = client.post(URL, body)
    assert answer.status_code == 400
    assert answer.context["formset"].forms[0].errors["window_end"]
    assert not Question.objects.filter(owner=forecaster).exists()


@pytest.mark.django_db
def test_a_report_form_without_text_or_date_is_refused(client, forecaster):
    client.force_login(forecaster)
    response = client.post(URL, {"step": "extract", "url": "https://example.org/r"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"text", "published_at"}
    bad = client.post(URL, {"step": "extract", "published_at": "2022-01-14", "url": "https://example.org/r",
                            "upload": SimpleUploadedFile("r.pdf", b"%PDF")})  # fmt: skip
    assert "upload" in bad.context["form"].errors


@pytest.mark.django_db
def test_only_those_who_may_file_questions_may_use_it(client, db):
    from tests import factories

    client.force_login(factories.UserFactory(is_staff=True))
    assert client.get(URL).status_code == 403


@pytest.mark.django_db
def test_a_negated_hedge_can_be_accepted_as_proposed(client, forecaster):
    client.force_login(forecaster)
    published = (timezone.now() - timedelta(days=2)).date().isoformat()
    text = "Diplomats said the talks are not expected to resume within the next two weeks."
    response = review_page(client, published_at=published, text=text)
    (form,) = response.context["formset"].forms
    assert form.initial["phrase"] == "hedge:not is expected to"
    assert client.post(URL, accept_body(response)).status_code == 302
    assert Question.objects.get(owner=forecaster).forecasts.get().probability == pytest.approx(0.25)
