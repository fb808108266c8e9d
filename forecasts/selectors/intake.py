"""Reads for report intake: the statements a report makes, matched to the sources the reader may see."""

from datetime import date

from forecasts.access import sources_visible_to
from forecasts.intake import CandidateSource, Statement, extract_statements


def intake_candidates_for(user) -> list[CandidateSource]:
    """The sources a reader may see, as plain data for the extraction's name matching."""
    rows = sources_visible_to(user).values_list("id", "name", "aliases")
    return [CandidateSource(id=pk, name=name, aliases=tuple(aliases or ())) for pk, name, aliases in rows]


def report_statements_for(user, *, text: str, published_at: date) -> list[Statement]:
    """The predictive statements of a report, each matched to a source the user can see; writes nothing."""
    return extract_statements(text, published_at, intake_candidates_for(user))
