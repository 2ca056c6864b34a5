"""Ringback: a missed-call relay that texts unanswered callers on WhatsApp."""

__version__ = "0.1.0"
