"""Sign-in throttling shared by the token endpoint and the admin login.

Three counts, all in the "logins" cache (Redis in production, so every gunicorn worker and
machine sees the same numbers):
- attempts per client address and username, and attempts per client address (fixed windows);
- failed attempts per username from any address: at the limit the username is locked for a
  short time, during which even the right password is refused. The lock ends by itself.

The client address is the one the API throttles use (REST_FRAMEWORK's NUM_PROXIES: forwarded
headers are ignored unless the operator says how many proxies sit in front).
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

LOGIN_CACHE = "logins"
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A broken cache server must not turn every sign-in into a 500: sign-ins go on unthrottled, logged.
CACHE_ERRORS = (RedisError, OSError)
LOCKED_MESSAGE = "Too many failed sign-ins for this username."
RATE_MESSAGE = "Too many sign-in attempts from your address."


@dataclass(frozen=True)
class LoginRefusal:
    """Why a sign-in attempt is refused before its password is checked, and for how long."""

    wait_seconds: int
    message: str


def client_address(request) -> str:
    """The caller's address as the API throttles see it (forwarded headers only behind NUM_PROXIES proxies)."""
    return BaseThrottle().get_ident(request) or ""


def login_settings() -> dict:
    return settings.FOREWARN["LOGINS"]


def rate_parse(rate: str | None) -> tuple[int, int] | None:
    """("<n>/<second|minute|hour|day>") as (n, seconds); None when the limit is switched off."""
    if not rate:
        return None
    count, period = rate.split("/")
    return int(count), PERIOD_SECONDS[period.strip()[0]]


def username_key(username: str) -> str:
    # Hashed: a username may hold any character, and "Alice" and "alice" count as one.
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def window_count(*, name: str, rate: str | None, now: float) -> int | None:
    """Count one attempt in the current fixed window of `rate`; the seconds left in it when over the limit."""
    parsed = rate_parse(rate)
    if parsed is None:
        return None
    limit, period = parsed
    window = int(now // period)
    key = f"login:rate:{name}:{window}"
    cache = caches[LOGIN_CACHE]
    cache.add(key, 0, timeout=period)
    try:
        count = cache.incr(key)
    except ValueError:  # the window expired between add and incr
        cache.set(key, 1, timeout=period)
        count = 1
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * period - now))


def lock_wait(*, username: str, now: float) -> int | None:
    """Seconds until the username's lock ends; None when it is not locked."""
    locked_until = caches[LOGIN_CACHE].get(f"login:locked:{username_key(username)}")
    if locked_until is None or locked_until <= now:
        return None
    return max(1, math.ceil(locked_until - now))


def login_attempt_check(*, username: str, address: str) -> LoginRefusal | None:
    """Count a sign-in attempt; the refusal (with Retry-After seconds) when the username is locked or a rate is exceeded."""
    now = time.time()
    rates = login_settings()
    try:
        wait = lock_wait(username=username, now=now)
        if wait is not None:
            logger.info("Sign-in refused for username %r from %s: locked for %d more seconds", username, address, wait)
            return LoginRefusal(wait_seconds=wait, message=LOCKED_MESSAGE)
        waits = [
            window_count(name=f"pair:{address}:{username_key(username)}", rate=rates["RATE_PER_USERNAME"], now=now),
            window_count(name=f"address:{address}", rate=rates["RATE_PER_ADDRESS"], now=now),
        ]
    except CACHE_ERRORS:
        logger.exception(
            "Sign-in throttle unavailable (cache error); attempt for %r from %s allowed", username, address
        )
        return None
    waits = [wait for wait in waits if wait is not None]
    if not waits:
        return None
    wait = max(waits)
    logger.info("Sign-in refused for username %r from %s: rate exceeded for %d seconds", username, address, wait)
    return LoginRefusal(wait_seconds=wait, message=RATE_MESSAGE)


def login_failure_record(*, username: str, address: str) -> None:
    """Count a wrong password for the username (from any address); lock it when the count reaches the limit."""
    config = login_settings()
    key = f"login:failures:{username_key(username)}"
    cache = caches[LOGIN_CACHE]
    try:
        cache.add(key, 0, timeout=config["FAILURE_WINDOW_SECONDS"])
        try:
            failures = cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=config["FAILURE_WINDOW_SECONDS"])
            failures = 1
        logger.info(
            "Failed sign-in for username %r from %s (%d of %d)", username, address, failures, config["FAILURE_LIMIT"]
        )
        if failures < config["FAILURE_LIMIT"]:
            return
        lockout = config["LOCKOUT_SECONDS"]
        cache.set(f"login:locked:{username_key(username)}", time.time() + lockout, timeout=lockout)
        cache.delete(key)
    except CACHE_ERRORS:
        logger.exception(
            "Sign-in throttle unavailable (cache error); failure for %r from %s not counted", username, address
        )
        return
    logger.warning(
        "Sign-in locked for username %r for %d seconds after %d failed attempts (the last from %s)",
        username,
        lockout,
        failures,
        address,
    )


def login_success_record(*, username: str) -> None:
    """Forget the username's failed attempts after a successful sign-in."""
    try:
        caches[LOGIN_CACHE].delete(f"login:failures:{username_key(username)}")
    except CACHE_ERRORS:
        logger.exception("Sign-in throttle unavailable (cache error); failures of %r not reset", username)
