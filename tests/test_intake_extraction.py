"""The pure extraction module: windows, words of likelihood, speakers, sources, drafts (no database)."""

import socket
from datetime import date

import pytest

from forecasts.estimative import phrase_lookup
from forecasts.intake import HEDGE, CandidateSource, extract_statements, report_text
from forecasts.intake.likelihood import likelihood_cues
from forecasts.intake.windows import window_from_text

PUBLISHED = date(2022, 1, 14)


@pytest.mark.parametrize(
    ("words", "start", "end", "vague"),
    [
        ("between mid-January and mid-February", "2022-01-15", "2022-02-15", False),
        ("between the middle of January and the middle of February", "2022-01-15", "2022-02-15", False),
        ("between early March and late April", "2022-03-01", "2022-04-30", False),
        ("within the next 30 days", "2022-01-14", "2022-02-13", False),
        ("in the next six years", "2022-01-14", "2028-01-14", False),
        ("within one week", "2022-01-14", "2022-01-21", False),
        ("within a week", "2022-01-14", "2022-01-21", False),
        ("in the next three months", "2022-01-14", "2022-04-14", False),
        ("by the end of March", "2022-01-14", "2022-03-31", False),
        ("by the end of the year", "2022-01-14", "2022-12-31", False),
        ("by the end of 2023", "2022-01-14", "2023-12-31", False),
        ("before the summer", "2022-01-14", "2022-06-21", False),
        ("this winter", "2022-01-14", "2022-03-20", False),
        ("at the summit on 12 December", "2022-01-14", "2022-12-12", False),
        ("by 24 February", "2022-01-14", "2022-02-24", False),
        ("in early March", "2022-03-01", "2022-03-10", False),
        ("by mid-March", "2022-01-14", "2022-03-15", False),
        ("in late January", "2022-01-21", "2022-01-31", False),
        ("in December", "2022-12-01", "2022-12-31", False),
        ("in the coming weeks", "2022-01-14", "2022-02-25", True),
        ("in the coming months", "2022-01-14", "2022-04-15", True),
        ("soon", "2022-01-14", "2022-01-28", True),
        ("is imminent", "2022-01-14", "2022-01-28", True),
        ("next week", "2022-01-17", "2022-01-23", False),
    ],
)
def test_windows_resolve_against_the_publication_date(words, start, end, vague):
    window = window_from_text(f"Officials said it could happen {words}.", PUBLISHED)
    assert (str(window.start), str(window.end), window.is_vague) == (start, end, vague)
    assert window.text and window.text in f"Officials said it could happen {words}."


def test_a_month_without_a_year_is_the_next_such_month():
    assert window_from_text("a deal by the end of March", date(2022, 5, 2)).end == date(2023, 3, 31)
    assert window_from_text("a deal by the end of March", date(2022, 3, 2)).end == date(2022, 3, 31)


def test_this_winter_later_in_the_year_ends_next_march():
    assert window_from_text("fighting this winter", date(2022, 11, 20)).end == date(2023, 3, 20)


@pytest.mark.parametrize(
    ("sentence", "phrase", "yardstick"),
    [
        ("Analysts said an attack was very likely.", "very likely", "icd203"),
        ("Analysts said an attack was highly improbable.", "very unlikely", "icd203"),
        ("Analysts said an attack was almost certainly not coming.", "almost certainly not", "kent"),
        ("Officials said Russia could invade.", "could", HEDGE),
        ("Officials said Russia may invade.", "could", HEDGE),
        ("Officials said Moscow is preparing an invasion.", "is preparing", HEDGE),
        ("Officials said Moscow plans to hold a referendum.", "plans to", HEDGE),
        ("Officials said the army is poised to advance.", "is poised to", HEDGE),
        ("The minister said there is no chance of a deal.", "no chance", HEDGE),
        ("The minister said Moscow had no plans to retaliate.", "no plans to", HEDGE),
        ("Officials said Russia will probably invade.", "will probably", HEDGE),
        ("The bloc is expected to agree.", "is expected to", HEDGE),
        ("The spokesman called the intelligence very credible.", "very credible", HEDGE),
    ],
)
def test_words_of_likelihood(sentence, phrase, yardstick):
    entry = likelihood_cues(sentence)[0].entry
    assert (entry.phrase, entry.yardstick) == (phrase, yardstick)
    if yardstick != HEDGE:
        assert entry == phrase_lookup(phrase=phrase, yardstick=yardstick)
    assert 0 < entry.low <= entry.probability <= entry.high < 1


def test_could_and_may_suggest_twenty_to_sixty_percent():
    entry = likelihood_cues("Officials said it could happen.")[0].entry
    assert (entry.low, entry.high, entry.probability) == (0.20, 0.60, 0.4)


def test_the_bloc_is_the_organisation_named_before():
    text = (
        "Ministers of the European Union met in Brussels on Monday.\n\n"
        "The bloc's foreign policy chief said sanctions could be agreed within the next two weeks."
    )
    (statement,) = extract_statements(text, date(2024, 3, 4))
    assert statement.speaker == "European Union's foreign policy chief"
    assert statement.kind == "sanctions"
    assert str(statement.window_end) == "2024-03-18"


def test_he_and_a_surname_are_the_person_quoted_in_full_earlier():
    text = (
        "Defence Minister Anna Berg said on Monday that talks had stalled.\n\n"
        "Berg warned that the army could launch an offensive within days.\n\n"
        "He added that reservists might be mobilised next month."
    )
    first, second = extract_statements(text, date(2024, 3, 4))
    assert first.speaker == "Defence Minister Anna Berg"
    assert second.speaker == "Defence Minister Anna Berg"


def test_past_events_facts_denials_and_narration_are_not_statements():
    text = (
        "Russia annexed Crimea in 2014.\n\n"
        "Officials said troops could have crossed the border last year.\n\n"
        "The ministry denied that it had deployed troops.\n\n"
        "This is an impossible ask.\n\n"
        "Will Russia invade?\n\n"
        "Analysts said in 2019 that a deal would be signed by the end of 2020."
    )
    assert extract_statements(text, date(2022, 1, 14)) == []


def test_a_partys_denial_of_intent_is_its_low_probability_statement():
    (statement,) = extract_statements("Moscow said it had no plans to retaliate.", date(2022, 1, 14))
    assert statement.speaker == "Moscow"
    assert statement.phrase == "no plans to" and statement.yardstick == HEDGE
    assert statement.probability < 0.2
    assert statement.title.startswith("Will Moscow retaliate")


def test_a_denial_by_the_party_of_what_it_would_do_is_low():
    (statement,) = extract_statements("Beijing denied that it would invade Taiwan this year.", date(2024, 3, 4))
    assert statement.probability < 0.2 and statement.speaker == "Beijing"


def test_sources_match_by_name_and_alias_fuzzily():
    sources = [
        CandidateSource(1, "John Kirby, Pentagon press secretary"),
        CandidateSource(2, "Russian Ministry of Defence"),
        CandidateSource(3, "Sergei Ryabkov, Russian Deputy Foreign Minister", aliases=("Moscow",)),
    ]
    text = (
        "John Kirby, the spokesman of the Department of Defense, said an attack could come within weeks.\n\n"
        "Russian officials said exercises would end by 20 February.\n\n"
        "Moscow threatened to station troops in Cuba."
    )
    kirby, officials, moscow = extract_statements(text, PUBLISHED, sources)
    assert (kirby.source, officials.source, moscow.source) == (1, None, 3)
    assert extract_statements(text, PUBLISHED, [{"id": 9, "name": "Jon Kirby", "aliases": ()}])[0].source == 9


def test_a_draft_is_a_yes_no_question_inside_the_window():
    (statement,) = extract_statements(
        "According to US officials, Russia could launch an invasion of Ukraine by the end of March.", PUBLISHED
    )
    assert statement.title == "Will Russia launch an invasion of Ukraine by 31 March 2022?"
    assert statement.kind == "invasion_window"
    assert "14 January 2022" in statement.resolution_criteria and "31 March 2022" in statement.resolution_criteria
    assert statement.quote in statement.resolution_criteria


def test_a_statement_without_words_of_time_gets_a_flagged_default():
    (statement,) = extract_statements("Officials said Russia could stage a false-flag attack.", PUBLISHED)
    assert statement.window_is_vague and statement.window_text == ""
    assert (statement.window_end - PUBLISHED).days == 42
    (other,) = extract_statements("Officials said Russia could deploy troops to Cuba.", PUBLISHED)
    assert other.window_end == date(2022, 12, 31) and other.window_is_vague


def test_html_pages_are_read_as_their_text():
    page = (
        "<html><head><style>p {color: red}</style><script>var x = 'could';</script></head><body>"
        "<nav>Home | World</nav><h1>Troops mass</h1><p>Officials said an attack was <b>likely</b> within a week.</p>"
        "</body></html>"
    )
    assert "var x" not in report_text(page) and "Home" not in report_text(page)
    (statement,) = extract_statements(page, PUBLISHED)
    assert statement.phrase == "likely" and str(statement.window_end) == "2022-01-21"


def test_extraction_needs_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("intake tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    text = "Officials said the summit on 12 December could produce a deal. A vote is expected on Friday 3 March 2023."
    assert extract_statements(text, PUBLISHED)


def test_a_window_past_the_calendars_end_is_no_window():
    window = window_from_text("Officials said it could happen within 999 decades.", PUBLISHED)
    assert window is None or window.end.year < 10_000
    assert extract_statements("Officials said peace could come within 999 decades.", PUBLISHED)
