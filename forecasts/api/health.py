"""Liveness plus reachability of the database and the broker, for load balancers and monitors.

Reports what answered and how fast, never a URL, a host name or a credential.
"""

import time

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema
from kombu import Connection
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from forecasts.api.serializers import HealthSerializer

BROKER_TIMEOUT_SECONDS = 2


def timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
        result = {"ok": True}
    except Exception as error:  # a health check reports every failure instead of raising it
        result = {"ok": False, "detail": type(error).__name__}
    result["milliseconds"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def broker_answers() -> None:
    """Connect once, with short timeouts: a hung broker must not hang the health check."""
    options = {
        **getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
    }
    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS, transport_options=options
    ) as broker:
        broker.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)


class HealthView(APIView):
    """Liveness, database and broker reachability; 503 when the database does not answer."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, tags=["health"])
    def get(self, request):
        database = timed(database_answers)
        broker = timed(broker_answers)
        if not database["ok"]:
            overall, code = "down", status.HTTP_503_SERVICE_UNAVAILABLE
        elif not broker["ok"]:
            overall, code = "degraded", status.HTTP_200_OK
        else:
            overall, code = "ok", status.HTTP_200_OK
        return Response({"status": overall, "database": database, "broker": broker}, status=code)
