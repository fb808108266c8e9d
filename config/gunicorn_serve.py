"""gunicorn's settings for the web process of `manage.py serve` (`make run`): one short access line
per request, none for static files, so the run log stays readable."""

from django.conf import settings

from forecasts.log_masking import GunicornLogger

# Time, request line, status, bytes, milliseconds: the user agent and referrer only widen the log.
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(M)sms'
accesslog = "-"
# The worker's running requests get this long after SIGTERM (serve waits 20 seconds in all).
graceful_timeout = 10
# No control socket: it sits in ~/.gunicorn, where a second `make run` (another port) would take it over.
control_socket_disable = True


class AccessLogWithoutStaticFiles(GunicornLogger):
    """gunicorn's logger with secret tokens masked, minus the access lines of static files (a page pulls dozens)."""

    def access(self, resp, req, environ, request_time):
        if not environ.get("PATH_INFO", "").startswith("/" + settings.STATIC_URL.lstrip("/")):
            super().access(resp, req, environ, request_time)


logger_class = AccessLogWithoutStaticFiles
