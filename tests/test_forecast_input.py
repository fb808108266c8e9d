"""The one box's parser: every form a forecast may be typed in, and the junk it refuses."""

import pytest

from forecasts.forecast_input import ForecastReading, UnreadableForecast, forecast_read


@pytest.mark.parametrize(
    ("text", "probability"),
    [
        ("70%", 0.7),
        ("70 %", 0.7),
        ("70", 0.7),
        ("0.7", 0.7),
        (".7", 0.7),
        ("  0.70  ", 0.7),
        ("99.9%", 0.999),
        ("0.1%", 0.001),
        ("1", 0.01),
        ("57.7", 0.577),
        ("3:1", 0.75),
        ("3 : 1", 0.75),
        ("1:3", 0.25),
        ("1 in 4", 0.25),
        ("1 IN 4", 0.25),
        ("2 in 3", pytest.approx(0.666666666666667)),
    ],
)
def test_numbers_odds_and_one_in_n(text, probability):
    reading = forecast_read(text)
    assert reading.probability == probability
    assert reading.phrase == "" and reading.yardstick == ""


@pytest.mark.parametrize(
    ("text", "phrase", "yardstick", "probability"),
    [
        ("likely", "likely", "icd203", 0.675),
        ("Very Unlikely", "very unlikely", "icd203", 0.125),
        ("very-unlikely", "very unlikely", "icd203", 0.125),
        ("probable", "likely", "icd203", 0.675),  # an ICD 203 synonym first
        ("remote", "almost no chance", "icd203", 0.03),
        ("highly improbable", "very unlikely", "icd203", 0.125),
        ("improbable", "unlikely", "icd203", 0.325),
        ("roughly even odds", "roughly even chance", "icd203", 0.5),
        ("highly probable", "very likely", "icd203", 0.875),
        ("nearly certain", "almost certain", "icd203", 0.97),
        ("probably not", "probably not", "kent", 0.3),  # only in Kent's yardstick
        ("chances about even", "chances about even", "kent", 0.5),
        ("almost certainly not", "almost certainly not", "kent", 0.07),
        ("kent: probable", "probable", "kent", 0.75),
        ("Kent almost certain", "almost certain", "kent", 0.93),
        ("icd203: likely", "likely", "icd203", 0.675),
    ],
)
def test_phrases_of_either_yardstick(text, phrase, yardstick, probability):
    assert forecast_read(text) == ForecastReading(probability, phrase, yardstick)


def test_a_named_yardstick_chooses_between_phrases_of_both():
    assert forecast_read("probable", yardstick="kent") == ForecastReading(0.75, "probable", "kent")


def test_the_description_says_what_was_understood():
    assert forecast_read("70%").description == "70%"
    assert forecast_read("likely").description == "67.5% - ICD 203: likely"
    assert forecast_read("kent: probable").description == "75% - Sherman Kent: probable"


JUNK = "Could not read {!r} as a probability: type 70%, 0.7, 3:1, 1 in 4 or a phrase like 'likely'."


@pytest.mark.parametrize("text", ["abc", "70%%", "seventy", "0.7.1", "-0.5", "1/4", "3:1:1", "likelyish", "1e-1", "∞"])
def test_junk_is_refused_with_the_forms_it_takes(text):
    with pytest.raises(UnreadableForecast) as refused:
        forecast_read(text)
    assert str(refused.value) == JUNK.format(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "Must be between 0.001 and 0.999."),
        ("0.0001", "Must be between 0.001 and 0.999."),
        ("100", "Must be between 0.1 and 99.9."),
        ("100%", "Must be between 0.1 and 99.9."),
        ("0.05%", "Must be between 0.1 and 99.9."),
        ("1 in 10000", "'1 in 10000' is 0.01%: Must be between 0.1 and 99.9 percent."),
        ("1:0", "'1:0' is 100%: Must be between 0.1 and 99.9 percent."),
        ("5 in 4", "'5 in 4' is not a chance between 0 and 1: type 70%, 0.7, 3:1, 1 in 4 or a phrase like 'likely'."),
        ("0 in 0", "'0 in 0' is not a chance between 0 and 1: type 70%, 0.7, 3:1, 1 in 4 or a phrase like 'likely'."),
    ],
)
def test_out_of_range_is_refused_with_the_api_bounds(text, message):
    with pytest.raises(UnreadableForecast) as refused:
        forecast_read(text)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type a forecast: type 70%, 0.7, 3:1, 1 in 4 or a phrase like 'likely'."),
        ("   ", "Type a forecast: type 70%, 0.7, 3:1, 1 in 4 or a phrase like 'likely'."),
        ("7" * 101, "At most 100 characters: type 70%, 0.7, 3:1, 1 in 4 or a phrase like 'likely'."),
        (0.7, "Give the forecast as text: type 70%, 0.7, 3:1, 1 in 4 or a phrase like 'likely'."),
    ],
)
def test_empty_long_and_non_text_input(text, message):
    with pytest.raises(UnreadableForecast) as refused:
        forecast_read(text)
    assert str(refused.value) == message


def test_an_unknown_phrase_of_a_named_yardstick_lists_its_phrases():
    with pytest.raises(UnreadableForecast) as refused:
        forecast_read("kent: likely")
    assert "is not a phrase of the kent yardstick" in str(refused.value)
