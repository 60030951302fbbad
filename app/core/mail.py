"""Outgoing mail through the standard library's smtplib (no extra dependency).

Configured by MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL, MAIL_USERNAME,
MAIL_PASSWORD and MAIL_DEFAULT_SENDER; with no MAIL_SERVER nothing is sent.
"""

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app


def mail_configured():
    return bool(current_app.config.get("MAIL_SERVER"))


def send_mails(messages):
    """Send [(to, subject, body)] over one SMTP connection; returns how many were sent."""
    if not messages or not mail_configured():
        return 0
    cfg = current_app.config
    sender = cfg.get("MAIL_DEFAULT_SENDER") or "minqing@localhost"
    server_class = smtplib.SMTP_SSL if cfg.get("MAIL_USE_SSL") else smtplib.SMTP
    with server_class(cfg["MAIL_SERVER"], int(cfg.get("MAIL_PORT") or 25), timeout=30) as server:
        if cfg.get("MAIL_USE_TLS") and not cfg.get("MAIL_USE_SSL"):
            server.starttls()
        if cfg.get("MAIL_USERNAME"):
            server.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
        for to, subject, body in messages:
            message = EmailMessage()
            message["From"] = sender
            message["To"] = to
            message["Subject"] = subject
            message["Date"] = formatdate(localtime=True)
            message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
            message.set_content(body)
            server.send_message(message)
    return len(messages)
