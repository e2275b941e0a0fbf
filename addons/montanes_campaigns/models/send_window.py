"""Send windows: the days and hours a campaign may e-mail a recipient."""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Europe/Madrid"
# Days searched for an allowed slot. A window with one weekday and a year of
# holidays still finds a slot, and a window that finds none is reported.
MAX_SEARCH_DAYS = 400


def float_to_time(hours):
    """Return the float_time value hours (9.5 for 09:30) as a time."""
    minutes = round(hours * 60)
    if minutes >= 24 * 60:
        return time(23, 59, 59)
    return time(minutes // 60, minutes % 60)


def format_hour(hours):
    """Return the float_time value hours as HH:MM (9.5 gives 09:30, 24.0 gives 24:00)."""
    minutes = round(hours * 60)
    sign = "-" if minutes < 0 else ""
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def next_allowed_datetime(date_utc, tz_name, weekdays, hour_from, hour_to, holidays=()):
    """Return the first UTC datetime at or after date_utc that falls in the window.

    :param date_utc: naive UTC datetime, as Odoo stores them
    :param tz_name: IANA time zone of the recipient; Europe/Madrid when unknown
    :param weekdays: allowed days as Python weekday numbers (Monday is 0)
    :param hour_from: first allowed local hour, as a float (9.5 is 09:30)
    :param hour_to: end of the allowed local hours, excluded
    :param holidays: local dates on which nothing is sent
    :return: naive UTC datetime, or None when the window allows no slot

    The window is applied in local time, so 10:00 in Madrid is 08:00 UTC in
    summer and 09:00 UTC in winter, whatever day the clocks change.
    """
    try:
        zone = ZoneInfo(tz_name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    local_now = date_utc.replace(tzinfo=timezone.utc).astimezone(zone)
    start_time = float_to_time(hour_from)
    end_time = float_to_time(hour_to)
    holidays = set(holidays)
    for offset in range(MAX_SEARCH_DAYS):
        day = local_now.date() + timedelta(days=offset)
        if day.weekday() not in weekdays or day in holidays:
            continue
        start = datetime.combine(day, start_time, tzinfo=zone)
        end = datetime.combine(day, end_time, tzinfo=zone)
        if offset == 0 and local_now >= end:
            continue
        chosen = start if offset or local_now < start else local_now
        return chosen.astimezone(timezone.utc).replace(tzinfo=None)
    return None
