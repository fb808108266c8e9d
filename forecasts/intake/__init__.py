"""Report intake: a report's text in, its predictive statements out, as drafts to review.

Pure: no ORM, no network, no model or data downloaded. The caller passes the existing sources as
plain data (`CandidateSource`) and turns accepted statements into rows (forecasts/services/intake.py).
"""

from forecasts.intake.extraction import Statement, extract_statements
from forecasts.intake.likelihood import HEDGE, HEDGES
from forecasts.intake.speakers import CandidateSource
from forecasts.intake.text import MAX_TEXT_LENGTH, report_text

__all__ = ["HEDGE", "HEDGES", "MAX_TEXT_LENGTH", "CandidateSource", "Statement", "extract_statements", "report_text"]
