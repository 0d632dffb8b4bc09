"""Channels deliver rendered reminders: SendGrid email, and the dev outbox."""
