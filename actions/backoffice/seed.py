"""Demo data: Northwind Outfitters, an outdoor-clothing shop.

:func:`seed` fills an empty database with 40 customers, 120 orders in every status (with items,
shipments and tracking events, invoices and payments), refunds in every state, support tickets,
and store appointment slots (fittings, gear repairs, bike services) for the 30 days after
``today``, some of them booked.

Everything comes from ``random.Random(42)`` and times relative to ``today`` (default: the current
date), so two runs with the same ``today`` produce identical databases, ids included
(:func:`dump` reads one back for comparison).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import URL

from . import models as m
from .db import drop_all, engine_for, migrate, session_factory, session_scope

SEED = 42
COMPANY = "Northwind Outfitters"
STORE_LOCATION = "Northwind Outfitters Portland, 1200 NW Everett St"
STORE_TZ = ZoneInfo("America/Los_Angeles")
WAREHOUSES = {"US": "Portland, OR, US", "CA": "Portland, OR, US", "GB": "Northampton, GB"}

PRODUCTS = [
    ("NW-JKT-RDG", "Ridgeline Rain Jacket", Decimal("149.00")),
    ("NW-PKA-SMT", "Summit Down Parka", Decimal("289.00")),
    ("NW-FLC-TRL", "Trailhead Fleece Pullover", Decimal("79.00")),
    ("NW-VST-EMB", "Ember Insulated Vest", Decimal("119.00")),
    ("NW-BSL-MRN", "Merino Base Layer Top", Decimal("64.00")),
    ("NW-PNT-VNT", "Ventura Hiking Pants", Decimal("89.00")),
    ("NW-SHT-GRN", "Granite Climbing Shorts", Decimal("55.00")),
    ("NW-HDY-DRF", "Drift Sun Hoodie", Decimal("48.00")),
    ("NW-FLN-HBR", "Harbor Flannel Shirt", Decimal("69.00")),
    ("NW-BTS-CYN", "Canyon Waterproof Hiking Boots", Decimal("179.00")),
    ("NW-SHO-PTH", "Pathfinder Trail Runners", Decimal("135.00")),
    ("NW-SCK-ALP", "Alpine Wool Socks (3-pack)", Decimal("27.00")),
    ("NW-GLV-TRN", "Tarn Waterproof Gloves", Decimal("42.00")),
    ("NW-BNE-BSN", "Basin Beanie", Decimal("24.00")),
    ("NW-PCK-CSC", "Cascade 30L Daypack", Decimal("109.00")),
    ("NW-LMP-LMN", "Lumen Rechargeable Headlamp", Decimal("39.95")),
    ("NW-BTL-INS", "Insulated Trail Bottle 750 ml", Decimal("29.50")),
    ("NW-TNT-MSA", "Mesa 2-Person Tent", Decimal("329.00")),
]

FIRST_NAMES = [
    "Olivia", "Liam", "Amara", "Mateo", "Priya", "Noah", "Sofia", "Kenji", "Zoë", "Ethan",
    "Fatima", "Lucas", "Chloé", "Darius", "Mei", "Gabriel", "Aisha", "Henrik", "Isabella", "Tomás",
    "Ngozi", "Oliver", "Yuki", "Samuel", "Leila", "Marcus", "Ananya", "Felix", "Hannah", "Omar",
    "Rosa", "Daniel", "Ingrid", "Kwame", "Elena", "Jack", "Nadia", "Rafael", "Grace", "Arjun",
]
LAST_NAMES = [
    "Bennett", "Okafor", "Nakamura", "García", "Johansson", "Patel", "Rossi", "Kim", "Dubois", "Müller",
    "O'Brien", "Nguyen", "Haddad", "Kowalski", "Silva", "Thompson", "Chen", "Andersen", "Mensah", "Fernández",
    "Walsh", "Ivanova", "Schmidt", "Costa", "Reyes", "Hughes", "Sato", "Brooks", "Lindqvist", "Rahman",
    "Moreau", "Murphy", "Khan", "Santos", "Fischer", "Adeyemi", "Larsen", "Cohen", "Price", "Alvarez",
]

# city, region, postal codes, country, area code (North America)
CITIES = [
    ("Portland", "OR", ["97201", "97209", "97214", "97227"], "US", "503"),
    ("Seattle", "WA", ["98101", "98103", "98122"], "US", "206"),
    ("Denver", "CO", ["80202", "80205", "80211"], "US", "303"),
    ("Boise", "ID", ["83702", "83706"], "US", "208"),
    ("Salt Lake City", "UT", ["84101", "84105"], "US", "801"),
    ("San Francisco", "CA", ["94110", "94117"], "US", "415"),
    ("Austin", "TX", ["78701", "78704"], "US", "512"),
    ("Chicago", "IL", ["60607", "60614"], "US", "312"),
    ("Boston", "MA", ["02116", "02130"], "US", "617"),
    ("Asheville", "NC", ["28801", "28806"], "US", "828"),
    ("Minneapolis", "MN", ["55401", "55408"], "US", "612"),
    ("Bozeman", "MT", ["59715", "59718"], "US", "406"),
    ("Vancouver", "BC", ["V6B 1A1", "V5K 0A1"], "CA", "604"),
    ("Calgary", "AB", ["T2P 1J9", "T2E 3K8"], "CA", "403"),
    ("Manchester", "England", ["M1 1AE", "M4 5JD"], "GB", None),
    ("Edinburgh", "Scotland", ["EH1 1YZ", "EH8 9AG"], "GB", None),
]
CITY_WEIGHTS = [8, 5, 4, 2, 2, 3, 2, 2, 2, 1, 2, 1, 2, 2, 2, 2]
STREETS = ["Alder St", "Birch Ave", "Cedar Ln", "Juniper Way", "Larch Rd", "Maple Dr", "Oak St", "Pine Ct",
           "Spruce Blvd", "Willow Pl", "Hemlock Ter", "Aspen Loop"]
UK_STREETS = ["High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane"]
CURRENCIES = {"US": "USD", "CA": "CAD", "GB": "GBP"}
CARRIERS = {"US": ["UPS", "FedEx", "USPS"], "CA": ["Canada Post", "UPS"], "GB": ["Royal Mail", "DHL"]}
HUBS = {
    "US": ["Reno, NV, US", "Salt Lake City, UT, US", "Louisville, KY, US", "Memphis, TN, US", "Sacramento, CA, US"],
    "CA": ["Blaine, WA, US", "Richmond, BC, CA"],
    "GB": ["Birmingham, GB", "Coventry, GB"],
}

# How many orders in each status (120 in all).
ORDER_MIX = {
    "delivered": 40, "in_transit": 14, "shipped": 12, "processing": 12, "paid": 10,
    "pending": 10, "cancelled": 12, "returned": 10,
}
# Days before "now" that orders in each status were placed.
PLACED_DAYS_AGO = {
    "pending": (0, 2), "paid": (0, 2), "processing": (1, 3), "shipped": (2, 4), "in_transit": (3, 7),
    "delivered": (9, 180), "cancelled": (5, 120), "returned": (25, 150),
}

# type -> (local start times, minutes, capacity, open on Saturday)
SLOT_PLAN = {
    "fitting": (["10:00", "11:00", "14:00", "15:00", "16:00"], 45, 2, True),
    "repair": (["10:30", "13:30", "15:30"], 60, 1, False),
    "bike_service": (["09:00", "12:00"], 90, 3, True),
}


class AlreadySeeded(RuntimeError):
    pass


def seed_now(today: date) -> datetime:
    """The moment the demo data describes: 09:00 in Portland on ``today`` (everything earlier has happened)."""
    return datetime.combine(today, time(9, 0), tzinfo=STORE_TZ).astimezone(timezone.utc)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@dataclass
class _Builder:
    today: date
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))

    def __post_init__(self) -> None:
        self.now = seed_now(self.today)
        self.tracking_numbers: set[str] = set()

    # ---------------------------------------------------------------- small helpers

    def ago(self, lo_days: float, hi_days: float) -> datetime:
        seconds = self.rng.randint(int(lo_days * 86400), int(hi_days * 86400))
        return (self.now - timedelta(seconds=seconds)).replace(second=0, microsecond=0)

    def later(self, start: datetime, lo_hours: float, hi_hours: float, cap: datetime | None = None) -> datetime:
        t = start + timedelta(minutes=self.rng.randint(int(lo_hours * 60), int(hi_hours * 60)))
        return min(t, cap) if cap else t

    def tracking_number(self, carrier: str) -> str:
        rng = self.rng
        while True:
            if carrier == "UPS":
                number = "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXY") for _ in range(6)) + "03" + "".join(
                    rng.choice("0123456789") for _ in range(8)
                )
            elif carrier == "USPS":
                number = "9400" + "".join(rng.choice("0123456789") for _ in range(18))
            elif carrier == "FedEx":
                number = "".join(rng.choice("0123456789") for _ in range(12))
            elif carrier == "Royal Mail":
                number = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2)) + "".join(
                    rng.choice("0123456789") for _ in range(9)
                ) + "GB"
            elif carrier == "Canada Post":
                number = "".join(rng.choice("0123456789") for _ in range(16))
            else:  # DHL
                number = "".join(rng.choice("0123456789") for _ in range(10))
            if number not in self.tracking_numbers:
                self.tracking_numbers.add(number)
                return number

    # ---------------------------------------------------------------- customers

    def customers(self) -> list[m.Customer]:
        rng = self.rng
        firsts, lasts = FIRST_NAMES[:], LAST_NAMES[:]
        rng.shuffle(firsts)
        rng.shuffle(lasts)
        closed = set(rng.sample(range(6, 41), 2))
        emails: set[str] = set()
        customers = []
        for n, (first, last) in enumerate(zip(firsts, lasts), start=1):
            city, region, postcodes, country, area = rng.choices(CITIES, weights=CITY_WEIGHTS)[0]
            f, l = _ascii(first), _ascii(last)
            local = rng.choice([f"{f}.{l}", f"{f[0]}{l}", f"{f}{l[0]}{rng.randint(10, 99)}", f"{f}_{l}", f"{l}.{f}"])
            email = f"{local}@{rng.choice(['example.com', 'example.org', 'example.net'])}"
            while email in emails:
                email = email.replace("@", f"{rng.randint(1, 9)}@")
            emails.add(email)
            phone = f"+1{area}555{100 + n:04d}" if area else f"+447700900{100 + n:03d}"
            account_type = rng.choices(list(m.ACCOUNT_TYPES), weights=[70, 15, 15])[0]
            created = self.ago(200, 1500)
            customer = m.Customer(
                id=m.format_id("CUS", n), name=f"{first} {last}", email=email, phone=phone, account_type=account_type,
                status="closed" if n in closed else "active",
                date_of_birth=date(1950, 1, 1) + timedelta(days=rng.randint(0, 52 * 365)),
                email_verified=rng.random() < 0.85, phone_verified=rng.random() < 0.6,
                created_at=created, updated_at=created,
                closed_at=self.ago(10, 60) if n in closed else None,
            )
            customer.addresses.append(self.address(city, region, postcodes, country, "home", True))
            if rng.random() < 0.25:
                label = "work" if account_type != "business" else "office"
                customer.addresses.append(self.address(city, region, postcodes, country, label, False))
            customers.append(customer)
        return customers

    def address(self, city, region, postcodes, country, label, default) -> m.Address:
        rng = self.rng
        street = rng.choice(UK_STREETS if country == "GB" else STREETS)
        line2 = rng.choice([None, None, None, f"Apt {rng.randint(1, 40)}", f"Suite {rng.randint(1, 9)}00"])
        return m.Address(
            label=label, line1=f"{rng.randint(1, 120) if country == 'GB' else rng.randint(100, 9999)} {street}",
            line2=line2, city=city, region=region, postal_code=rng.choice(postcodes), country=country, is_default=default,
        )

    # ---------------------------------------------------------------- orders

    def orders(self, customers: list[m.Customer]) -> list[m.Order]:
        rng = self.rng
        statuses = [status for status, count in ORDER_MIX.items() for _ in range(count)]
        rng.shuffle(statuses)
        active = [c for c in customers if c.status == "active"]
        drafts = []
        for status in statuses:
            pool = active if status in ("pending", "paid", "processing", "shipped", "in_transit") else customers
            customer = rng.choice(pool)
            placed = self.ago(*PLACED_DAYS_AGO[status])
            if customer.status == "closed":
                placed = min(placed, customer.closed_at - timedelta(days=3))
            drafts.append((placed, status, customer))
        drafts.sort(key=lambda d: (d[0], d[2].id, d[1]))

        orders = []
        delivered_seen = 0
        for k, (placed, status, customer) in enumerate(drafts):
            address = rng.choice(customer.addresses)
            order = m.Order(
                id=m.format_id("ORD", 10001 + k), customer_id=customer.id, status=status, placed_at=placed,
                updated_at=placed, ship_name=customer.name, ship_line1=address.line1, ship_line2=address.line2,
                ship_city=address.city, ship_region=address.region, ship_postal_code=address.postal_code,
                ship_country=address.country, currency=CURRENCIES[address.country], total=Decimal("0.00"),
            )
            for sku, name, price in rng.sample(PRODUCTS, rng.choices([1, 2, 3, 4], weights=[40, 30, 20, 10])[0]):
                order.items.append(m.OrderItem(sku=sku, name=name, qty=rng.choices([1, 2], weights=[85, 15])[0], unit_price=price, state="new"))
            order.total = sum((it.unit_price * it.qty for it in order.items), Decimal("0.00"))
            if status == "delivered":
                delivered_seen += 1
                for it in order.items:
                    it.state = "opened" if rng.random() < 0.4 else "new"
                if delivered_seen % 7 == 3:
                    order.items[0].state = "damaged"
            elif status == "returned":
                for it in order.items:
                    it.state = "returned"
            orders.append(order)
        return orders

    def shipment(self, order: m.Order) -> m.Shipment | None:
        if order.status not in ("shipped", "in_transit", "delivered", "returned"):
            return None
        rng = self.rng
        country = order.ship_country
        carrier = rng.choice(CARRIERS[country])
        warehouse = WAREHOUSES[country]
        destination = f"{order.ship_city}, {order.ship_region}, {country}" if country != "GB" else f"{order.ship_city}, GB"
        cap = self.now - timedelta(minutes=30)
        shipped_at = self.later(order.placed_at, 10, 30, cap=cap - timedelta(hours=6))
        transit_days = rng.randint(2, 5)
        shipment = m.Shipment(
            carrier=carrier, tracking_number=self.tracking_number(carrier), status="label_created", shipped_at=shipped_at,
            estimated_delivery=(shipped_at + timedelta(days=transit_days)).astimezone(STORE_TZ).date(),
        )
        plan = [(shipped_at, warehouse, "Shipping label created")]
        plan.append((self.later(shipped_at, 2, 6), warehouse, "Picked up by carrier"))
        t = self.later(plan[-1][0], 3, 8)
        plan.append((t, warehouse, "Departed facility"))
        for hub in rng.sample(HUBS[country], min(2, len(HUBS[country]))):
            t = self.later(t, 8, 20)
            plan.append((t, hub, "Arrived at facility"))
            t = self.later(t, 2, 6)
            plan.append((t, hub, "Departed facility"))
        t = self.later(t, 8, 16)
        plan.append((t, destination, "Arrived at local facility"))
        t = self.later(t, 6, 12)
        plan.append((t, destination, "Out for delivery"))
        t = self.later(t, 2, 8)
        plan.append((t, destination, rng.choice(["Delivered, left at front door", "Delivered, signed for by resident", "Delivered to mailroom"])))

        if order.status == "shipped":
            events = [e for e in plan[:2] if e[0] <= cap]
            shipment.status = "in_transit" if len(events) > 1 else "label_created"
        elif order.status == "in_transit":
            events = [e for e in plan[: rng.randint(3, len(plan) - 1)] if e[0] <= cap]
            events = events if len(events) >= 3 else plan[:3]
            if events[-1][2] == "Out for delivery":
                shipment.status = "out_for_delivery"
            elif rng.random() < 0.15:
                when = min(self.later(events[-1][0], 2, 6), cap)
                events.append((when, events[-1][1], rng.choice(["Weather delay, shipment rescheduled", "Delivery attempted, no one available"])))
                shipment.status = "exception"
            else:
                shipment.status = "in_transit"
        else:
            events = plan
            shipment.status = "delivered"
            shipment.delivered_at = plan[-1][0]
            if order.status == "returned":
                back = self.later(plan[-1][0], 24 * 3, 24 * 10)
                events = plan + [
                    (back, destination, "Return shipment picked up"),
                    (self.later(back, 24 * 2, 24 * 5), warehouse, "Return received at Northwind warehouse"),
                ]
                shipment.status = "returned"
        for when, location, description in events:
            shipment.events.append(m.TrackingEvent(occurred_at=min(when, cap), location=location, description=description))
        if shipment.status == "delivered":
            shipment.delivered_at = shipment.events[-1].occurred_at
        order.updated_at = shipment.events[-1].occurred_at
        return shipment

    # ---------------------------------------------------------------- billing

    def payment(self, invoice: m.Invoice, status: str, when: datetime) -> m.Payment:
        rng = self.rng
        method = rng.choices(list(m.PAYMENT_METHODS), weights=[70, 20, 10])[0]
        brand = rng.choice(["visa", "mastercard", "amex", "discover"]) if method == "card" else None
        last4 = f"{rng.randint(0, 9999):04d}" if method in ("card", "gift_card") else None
        return m.Payment(
            method=method, card_brand=brand, last4=last4, amount=invoice.amount, currency=invoice.currency, status=status,
            created_at=when, captured_at=when + timedelta(minutes=1) if status in ("captured", "refunded") else None,
        )


def _counts(session) -> dict[str, int]:
    return {
        table.name: session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in m.Base.metadata.sorted_tables
        if table.name not in ("id_counters", "audit_head")
    }


def seed(url: str | URL | None = None, *, today: date | None = None) -> dict[str, int]:
    """Migrate the database at ``url`` and fill it with the demo company; returns row counts per table.

    Raises :class:`AlreadySeeded` when it already holds customers (use :func:`reset`).
    """
    today = today or date.today()
    migrate(url)
    sessions = session_factory(url)
    with session_scope(sessions, write=True) as s:
        if s.scalar(sa.select(sa.func.count()).select_from(m.Customer)):
            raise AlreadySeeded("the back office already holds data; reset it first")
        _fill(s, _Builder(today))
        s.flush()
        return _counts(s)


def _fill(s, b: _Builder) -> None:
    rng = b.rng
    customers = b.customers()
    s.add_all(customers)
    s.flush()
    by_id = {c.id: c for c in customers}

    orders = b.orders(customers)
    s.add_all(orders)
    s.flush()

    for order in orders:
        shipment = b.shipment(order)
        if shipment is not None:
            order.shipments.append(shipment)
    s.flush()

    # Invoices and payments; refunds for cancelled-after-payment and returned orders.
    invoices, refunds = [], []
    refund_no = 0

    def refund(order: m.Order, invoice: m.Invoice, amount: Decimal, reason: str, status: str, when: datetime) -> m.Refund:
        nonlocal refund_no
        refund_no += 1
        rid = m.format_id("RFD", refund_no)
        r = m.Refund(
            id=rid, order_id=order.id, invoice_id=invoice.id, amount=amount, currency=order.currency, reason=reason,
            status=status, idempotency_key=f"seed-{rid}", created_at=when, updated_at=when,
            issued_at=when + timedelta(days=2) if status == "issued" else None,
        )
        refunds.append(r)
        return r

    delivered = [o for o in orders if o.status == "delivered"]
    for k, order in enumerate(orders):
        customer = by_id[order.customer_id]
        invoice = m.Invoice(
            id=m.format_id("INV", 100001 + k), order_id=order.id, customer_id=order.customer_id, amount=order.total,
            currency=order.currency, issued_at=order.placed_at + timedelta(minutes=1), status="paid",
            due_at=order.placed_at + timedelta(days=30) if customer.account_type == "business" else None,
        )
        paid_at = order.placed_at + timedelta(minutes=2)
        if order.status == "pending":
            invoice.status = "open"
            if rng.random() < 0.5:
                invoice.payments.append(b.payment(invoice, "failed", paid_at))
        elif order.status == "cancelled":
            order.cancelled_at = b.later(order.placed_at, 1, 20)
            order.updated_at = order.cancelled_at
            order.cancel_reason = rng.choice(["Ordered the wrong size", "Found it cheaper elsewhere", "No longer needed", "Delivery would take too long"])
            if rng.random() < 0.5:
                invoice.status = "void"
                invoice.payments.append(b.payment(invoice, "voided", paid_at))
            else:
                invoice.status = "refunded"
                invoice.payments.append(b.payment(invoice, "refunded", paid_at))
                refund(order, invoice, order.total, f"Order cancelled: {order.cancel_reason.lower()}", "issued", order.cancelled_at)
        elif order.status == "returned":
            invoice.status = "refunded"
            invoice.payments.append(b.payment(invoice, "refunded", paid_at))
            received = order.shipments[0].events[-1].occurred_at if order.shipments else order.placed_at + timedelta(days=14)
            reason = rng.choice(["Returned: too small", "Returned: too large", "Returned: not as pictured", "Returned: changed mind"])
            refund(order, invoice, order.total, reason, "issued", received)
            order.updated_at = received
        else:
            invoice.payments.append(b.payment(invoice, "captured", paid_at))
        invoices.append(invoice)

    # Refunds of delivered orders in every other state, one partly issued.
    for order, status, share, reason in zip(
        delivered[:5],
        ["requested", "pending_approval", "approved", "rejected", "issued"],
        [Decimal("0.5"), Decimal("1"), Decimal("0.3"), Decimal("1"), Decimal("0.25")],
        ["Item arrived damaged", "Jacket seams leaking after one use", "Late delivery goodwill credit",
         "Worn item outside the return window", "Price adjustment"],
    ):
        invoice = invoices[orders.index(order)]
        amount = (order.total * share).quantize(Decimal("0.01"))
        when = min(order.shipments[0].delivered_at + timedelta(days=2), b.now - timedelta(hours=1))
        r = refund(order, invoice, amount, reason, status, when)
        if status == "issued" and amount < order.total:
            invoice.status = "partially_refunded"
        r.conversation_id = f"demo-{order.id.lower()}"
    refunds.sort(key=lambda r: (r.created_at, r.id))
    for n, r in enumerate(refunds, start=1):  # number refunds in time order
        r.id = m.format_id("RFD", n)
        r.idempotency_key = f"seed-{r.id}"
    s.add_all(invoices)
    s.flush()
    s.add_all(refunds)
    s.flush()

    tickets = _tickets(b, customers, orders)
    s.add_all(tickets)
    s.flush()

    slots = _slots(b)
    s.add_all(slots)
    s.flush()
    appointments = _appointments(b, customers, slots)
    s.add_all(appointments)
    s.flush()

    counters = {
        "CUS": len(customers), "ORD": 10000 + len(orders), "INV": 100000 + len(invoices), "RFD": len(refunds),
        "TCK": len(tickets), "APT": len(appointments), "APR": 0,
    }
    table = m.IdCounter.__table__
    s.execute(sa.delete(table))
    s.execute(sa.insert(table), [{"prefix": p, "last": n} for p, n in counters.items()])


TICKET_TEMPLATES = [
    # category, priority, order statuses (None: no order), subject, first message, agent reply
    ("order_status", "normal", ("in_transit", "shipped"), "Where is my order {order}?",
     "Hi, my order {order} was supposed to arrive by now. Can you tell me where it is?",
     "Thanks for reaching out! {order} is with the carrier and moving; you can follow it with the tracking number in your shipping email."),
    ("damaged_item", "high", ("delivered",), "{item} arrived damaged",
     "The {item} from order {order} arrived with a torn seam. I'd like a replacement or a refund.",
     "Sorry about that! Could you send a photo of the damage? We'll arrange a replacement right away."),
    ("returns", "normal", ("delivered", "returned"), "Return for order {order}",
     "I'd like to return the {item} from order {order}; it doesn't fit.",
     "No problem. I've emailed you a prepaid return label; refunds are issued once the parcel reaches our warehouse."),
    ("billing", "high", ("paid", "processing", "delivered"), "Charged twice for {order}?",
     "I see two charges on my card for order {order}. Please check.",
     "One of the two is a pre-authorisation that drops off within 3-5 business days; you were charged once."),
    ("billing", "low", ("delivered",), "Invoice copy for {order}",
     "Could you send me a copy of the invoice for order {order} for my expense report?",
     "Attached is your invoice. Let us know if you need the company name added."),
    ("account", "normal", None, "Update my email address",
     "I changed jobs; please update the email on my account.",
     "We've sent a confirmation link to the new address; the change takes effect once you click it."),
    ("product_question", "low", None, "Sizing question: {product}",
     "I'm usually a medium. Does the {product} run large?",
     "It has an athletic fit, so most customers stay with their usual size; size up if you layer a fleece underneath."),
    ("delivery", "urgent", ("in_transit",), "Delivery exception on {order}",
     "Tracking for {order} shows an exception and I need it for a trip this weekend!",
     "I've opened a trace with the carrier and will update you within 24 hours."),
]


def _tickets(b: _Builder, customers: list[m.Customer], orders: list[m.Order]) -> list[m.Ticket]:
    rng = b.rng
    statuses = ["open"] * 8 + ["pending"] * 6 + ["resolved"] * 7 + ["closed"] * 5
    rng.shuffle(statuses)
    tickets = []
    for n, status in enumerate(statuses, start=1):
        category, priority, order_statuses, subject, first, reply = TICKET_TEMPLATES[(n - 1) % len(TICKET_TEMPLATES)]
        order = None
        if order_statuses:
            order = rng.choice([o for o in orders if o.status in order_statuses])
            customer_id = order.customer_id
            created = b.later(order.placed_at, 6, 72, cap=b.now - timedelta(hours=2))
        else:
            customer_id = rng.choice([c for c in customers if c.status == "active"]).id
            created = b.ago(1, 60)
        fields = {
            "order": order.id if order else "",
            "item": order.items[0].name if order else "",
            "product": rng.choice(PRODUCTS)[1],
        }
        ticket = m.Ticket(
            id=m.format_id("TCK", n), customer_id=customer_id, order_id=order.id if order else None,
            conversation_id=None, category=category, priority=priority, status=status,
            subject=subject.format(**fields), created_at=created, updated_at=created,
        )
        ticket.messages.append(m.TicketMessage(author="customer", body=first.format(**fields), created_at=created))
        t = created
        if status != "open":
            t = b.later(t, 1, 20, cap=b.now - timedelta(minutes=10))
            ticket.messages.append(m.TicketMessage(author="agent", body=reply.format(**fields), created_at=t))
        if status in ("resolved", "closed") and rng.random() < 0.6:
            t = b.later(t, 1, 20, cap=b.now - timedelta(minutes=5))
            ticket.messages.append(m.TicketMessage(author="customer", body="Great, thank you!", created_at=t))
        ticket.updated_at = t
        tickets.append(ticket)
    tickets.sort(key=lambda t: (t.created_at, t.id))
    for n, ticket in enumerate(tickets, start=1):  # number tickets in time order
        ticket.id = m.format_id("TCK", n)
    return tickets


def _slots(b: _Builder) -> list[m.AppointmentSlot]:
    slots = []
    for day in range(1, 31):
        d = b.today + timedelta(days=day)
        if d.weekday() == 6:  # closed on Sundays
            continue
        for type_, (starts, minutes, capacity, saturday) in SLOT_PLAN.items():
            if d.weekday() == 5 and not saturday:
                continue
            for hhmm in starts:
                hour, minute = map(int, hhmm.split(":"))
                start = datetime.combine(d, time(hour, minute), tzinfo=STORE_TZ).astimezone(timezone.utc)
                slots.append(
                    m.AppointmentSlot(
                        type=type_, start_at=start, end_at=start + timedelta(minutes=minutes), location=STORE_LOCATION,
                        capacity=capacity, booked=0,
                    )
                )
    slots.sort(key=lambda sl: (sl.start_at, sl.type))
    return slots


def _appointments(b: _Builder, customers: list[m.Customer], slots: list[m.AppointmentSlot]) -> list[m.Appointment]:
    rng = b.rng
    active = [c for c in customers if c.status == "active"]
    soon = [sl for sl in slots if sl.start_at < b.now + timedelta(days=15)]
    notes = {
        "fitting": ["Hiking boots for a wide foot", "Rain jacket for a trip to Scotland", None],
        "repair": ["Broken zipper on a down parka", "Torn tent fly", "Replace buckle on daypack"],
        "bike_service": ["Full tune-up", "Brakes squeaking", "Gear shifting slips", None],
    }
    drafts = []
    for k in range(24):
        slot = rng.choice(soon)
        if slot.booked >= slot.capacity:
            continue
        customer = rng.choice(active)
        status = "cancelled" if k % 6 == 5 else "booked"
        if status == "booked":
            slot.booked += 1
        created = b.ago(1, 10)
        drafts.append(
            m.Appointment(
                customer_id=customer.id, slot=slot, type=slot.type, status=status, notes=rng.choice(notes[slot.type]),
                created_at=created, updated_at=created, cancelled_at=b.later(created, 2, 20, cap=b.now) if status == "cancelled" else None,
            )
        )
    drafts.sort(key=lambda a: (a.created_at, a.customer_id))
    for n, appointment in enumerate(drafts, start=1):
        appointment.id = m.format_id("APT", n)
    return drafts


# --------------------------------------------------------------------------- reset and dump


def reset(url: str | URL | None = None, *, seed_data: bool = True, today: date | None = None) -> dict[str, int]:
    """Drop every back-office table, recreate the schema through the migrations and (unless
    ``seed_data`` is false) seed the demo company; returns row counts per table."""
    drop_all(url)
    migrate(url)
    if seed_data:
        return seed(url, today=today)
    with session_scope(url) as s:
        return _counts(s)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def dump(url: str | URL | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every back-office table's rows in primary-key order, as JSON-ready dicts."""
    out = {}
    with engine_for(url).connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            out[table.name] = [{k: _plain(v) for k, v in row._mapping.items()} for row in rows]
    return out
