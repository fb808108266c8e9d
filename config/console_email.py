"""The email backend of `make run`: each email printed as its headers and plain-text part, without
the HTML alternative and MIME encoding, so its links (one-click resolve links among them) read as-is."""

from django.core.mail.backends import console

RULE = "-" * 79


class PlainTextConsoleEmailBackend(console.EmailBackend):
    """Django's console backend, printing the plain-text part only."""

    def write_message(self, message):
        recipients = ", ".join(message.recipients())
        self.stream.write(f"{RULE}\nEmail to {recipients}: {message.subject}\n{RULE}\n")
        self.stream.write(message.body.rstrip("\n") + "\n")
        self.stream.write(RULE + "\n")
