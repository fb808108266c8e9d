"""An email backend for worker subprocesses: the file backend, optionally slow like a real SMTP server.

Before each message it drops a marker naming the message's Message-ID in `<dir>/sending/`, then
waits FOREWARN_TEST_MAIL_DELAY_SECONDS, then writes the message: a test can kill the worker
while it is provably in the middle of sending.
"""

import os
import time
from pathlib import Path

from django.core.mail.backends import filebased


class SlowFileEmailBackend(filebased.EmailBackend):
    def send_messages(self, email_messages):
        delay = float(os.environ.get("FOREWARN_TEST_MAIL_DELAY_SECONDS", "0"))
        markers = Path(self.file_path) / "sending"
        markers.mkdir(exist_ok=True)
        for message in email_messages:
            message_id = message.extra_headers.get("Message-ID", "")
            marker = markers / f"{time.monotonic_ns()}-{os.getpid()}"
            marker.write_text(message_id)
            time.sleep(delay)
        return super().send_messages(email_messages)
