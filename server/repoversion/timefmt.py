"""Time formats: ISO 8601 UTC for JSON, RFC 2822 for Release files, apt's snapshot IDs."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(dt: datetime) -> datetime:
    """Treat a naive datetime (as SQLite returns them) as UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def iso(dt: datetime) -> str:
    """``2026-11-25T21:00:00Z``."""
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def release_date(dt: datetime) -> str:
    """The Date form apt parses: ``Wed, 25 Nov 2026 21:00:00 UTC`` (English names, always)."""
    d = utc(dt)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return (
        f"{days[d.weekday()]}, {d.day:02d} {months[d.month - 1]} {d.year} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} UTC"
    )
