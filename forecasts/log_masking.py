"""Secrets in paths stay out of the logs: the calendar feed's token and the one-click links' tokens.

Whoever reads an access log line with `/calendar/<token>.ics` could read that user's feed; the log
keeps the path with the token replaced. `SecretPathFilter` does it for Django's own records
(runserver's request lines, "Not Found: ..." warnings, anything logged with a path);
`GunicornLogger` for gunicorn's access log (`--logger-class forecasts.log_masking.GunicornLogger`).
"""

import logging
import re

from gunicorn.glogging import Logger

HIDDEN = "<hidden>"
SECRET_PATHS = re.compile(r"(/calendar/)[^/\s\"'?]+(\.ics)|(/actions/)[^/\s\"'?]+(/)")


def secret_paths_mask(text: str) -> str:
    """The text with every calendar or one-click link token in it replaced by <hidden>."""
    return SECRET_PATHS.sub(
        lambda match: f"{match[1]}{HIDDEN}{match[2]}" if match[1] else f"{match[3]}{HIDDEN}{match[4]}", text
    )


class SecretPathFilter(logging.Filter):
    """Rewrite a record's message with its secret path tokens masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = secret_paths_mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


class GunicornLogger(Logger):
    """Gunicorn's logger, with every field of each access log line masked (request line, path, referrer)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: secret_paths_mask(value) if isinstance(value, str) else value for key, value in atoms.items()}
