"""Store appointments: ``action_book_appointment``, ``action_reschedule_appointment``,
``action_cancel_appointment``, always against the slots the scheduling system has free.

Slots read: ``appointment_type`` (fitting, repair, bike service), ``date`` and ``time`` (in the
store's time zone; a date from today on), ``appointment_id`` (optional when the customer has one
upcoming appointment), ``appointment_notes`` (optional, for booking). Slot set: ``appointment_id``.
Without a date the next free times are offered, without a time the free times of that day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from actions.backoffice.interfaces import Appointment, Slot
from actions.tools import inputs
from actions.tools.base import Call, Tool, day, local, today
from actions.tools.inputs import Invalid, ToolFailure

TYPES = {
    "fitting": "fitting", "fittings": "fitting", "boot fitting": "fitting",
    "repair": "repair", "repairs": "repair", "gear repair": "repair", "gear_repair": "repair",
    "bike service": "bike_service", "bike_service": "bike_service", "bike": "bike_service", "bike repair": "bike_service",
    "bicycle service": "bike_service", "service": "bike_service",
}
LABELS = {"fitting": "fitting", "repair": "gear repair", "bike_service": "bike service"}
STORE = "our Portland store (1200 NW Everett St)"


def appointment_type(call: Call) -> str:
    raw = call.value("appointment_type")
    if raw is None:
        raise ToolFailure("Which kind of appointment would you like: a fitting, a gear repair or a bike service?", "missing")
    kind = TYPES.get(" ".join(str(raw).lower().replace("-", " ").split()))
    if kind is None:
        raise Invalid("We offer fittings, gear repairs and bike services. Which one would you like?")
    return kind


def _when(call: Call, slot: Slot) -> str:
    start = local(call, slot.start)
    return f"{day(start)} at {start:%H:%M}"


def choose_slot(call: Call, kind: str) -> Slot | None:
    """The free slot the customer asked for; ``None`` after offering times when date or time is missing."""
    scheduling = call.bo.scheduling
    raw_date, raw_time = call.value("date"), call.value("time")
    label = LABELS[kind]
    if raw_date is None:
        if raw_time is not None and "T" in str(raw_time):  # a full date-time in the time slot
            raw_date = str(raw_time)[:10]
        else:
            free = scheduling.available_slots(kind, limit=5)
            call.outcome = "offered_times"
            if not free:
                call.say(f"Sorry, there are no free {label} appointments in the coming weeks. Type \"agent\" and a person will help.")
                return None
            call.say(f"The next free times for a {label} are: " + "; ".join(_when(call, s) for s in free) + ". Which suits you?")
            return None
    when = inputs.future_date(raw_date, today(call))
    call.params["date"] = when
    zone = local(call, call.now()).tzinfo
    start = datetime.combine(when, datetime.min.time(), tzinfo=zone)
    free = scheduling.available_slots(kind, start=start, end=start + timedelta(days=1), limit=20)
    if raw_time is None:
        call.outcome = "offered_times"
        if free:
            call.say(f"On {day(when)} these times are free for a {label}: " + ", ".join(f"{local(call, s.start):%H:%M}" for s in free)
                     + ". Which one would you like?")
        else:
            call.say(f"Sorry, there's nothing free for a {label} on {day(when)}. " + _next_free(call, kind))
        return None
    at = inputs.time_of_day(raw_time)
    call.params["time"] = at.strftime("%H:%M")
    wanted = datetime.combine(when, at, tzinfo=zone)
    if wanted <= call.now():
        raise Invalid("That time has already passed. Which later time would suit you?")
    match = next((s for s in free if local(call, s.start).replace(tzinfo=None) == wanted.replace(tzinfo=None)), None)
    if match is None:
        others = ", ".join(f"{local(call, s.start):%H:%M}" for s in free)
        text = f"Sorry, {at:%H:%M} on {day(when)} isn't free for a {label}."
        text += f" Free times that day: {others}." if others else " " + _next_free(call, kind)
        raise ToolFailure(text, "unavailable")
    return match


def _next_free(call: Call, kind: str) -> str:
    free = call.bo.scheduling.available_slots(kind, limit=3)
    return ("The next free times are: " + "; ".join(_when(call, s) for s in free) + ".") if free else ""


def which_appointment(call: Call, verb: str, *, cancelled_ok: bool = False) -> Appointment:
    raw = call.value("appointment_id")
    if raw is not None:
        appointment = call.appointment(inputs.appointment_id(raw))
    else:
        upcoming = [a for a in call.bo.scheduling.list_appointments(call.customer_id) if a.slot.start > call.now()]
        if not upcoming:
            raise ToolFailure("I can't see any upcoming appointments on your account.", "not_found")
        if len(upcoming) > 1:
            shown = "; ".join(f"{a.id}: {LABELS[a.type]} on {_when(call, a.slot)}" for a in upcoming)
            raise ToolFailure(f"You have several upcoming appointments ({shown}). Which one would you like to {verb}?", "missing")
        appointment = upcoming[0]
    call.params["appointment_id"] = appointment.id
    call.set("appointment_id", appointment.id)
    if appointment.status == "cancelled" and not cancelled_ok:
        raise ToolFailure(f"Appointment {appointment.id} has already been cancelled.", "not_allowed")
    return appointment


class BookAppointment(Tool):
    def name(self) -> str:
        return "action_book_appointment"

    def execute(self, call: Call) -> None:
        kind = appointment_type(call)
        call.params["type"] = kind
        slot = choose_slot(call, kind)
        if slot is None:
            return
        notes = str(call.slot("appointment_notes") or "").strip()[:500] or None
        appointment = call.bo.scheduling.book(call.customer_id, slot.id, notes=notes)
        call.params["appointment_id"] = appointment.id
        call.set("appointment_id", appointment.id)
        call.say(f"Booked: your {LABELS[kind]} on {_when(call, appointment.slot)} at {STORE}. "
                 f"Your reference is {appointment.id}.")


class RescheduleAppointment(Tool):
    def name(self) -> str:
        return "action_reschedule_appointment"

    def execute(self, call: Call) -> None:
        appointment = which_appointment(call, "move")
        slot = choose_slot(call, appointment.type)
        if slot is None:
            return
        appointment = call.bo.scheduling.reschedule(appointment.id, slot.id)
        call.say(f"Done: your {LABELS[appointment.type]} ({appointment.id}) is now on {_when(call, appointment.slot)} at {STORE}.")


class CancelAppointment(Tool):
    def name(self) -> str:
        return "action_cancel_appointment"

    def execute(self, call: Call) -> None:
        appointment = which_appointment(call, "cancel", cancelled_ok=True)  # cancelling again is a no-op
        appointment = call.bo.scheduling.cancel(appointment.id, reason="Cancelled by the customer in chat")
        call.say(f"Done: your {LABELS[appointment.type]} on {_when(call, appointment.slot)} ({appointment.id}) is cancelled. "
                 "Cancelling is free.")
