"""An independent model of a client's positions, written from the contract's comments
(cost_basis.proto, holdings.proto, common.proto) rather than from the Swift code: the
differential tests drive holdingsd and this model with the same random commands and
compare every answer.

Amounts are Python Decimals at a precision far above the service's, rounded only where
the contract says the service rounds:
  * a product (quantity × price, basis × part) half-even at 18 places;
  * a quotient (basis × part ÷ held, fees × part ÷ sold, shares × to ÷ from,
    average re-basing) half-even at 10 places;
  * reinvested dividend shares: the quotient at 10 places, then down to 6.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, ROUND_DOWN, ROUND_HALF_EVEN, localcontext
from fractions import Fraction

P18 = Decimal("1e-18")
P10 = Decimal("1e-10")
P6 = Decimal("1e-6")


def mul(a, b):
    with localcontext() as ctx:
        ctx.prec = 120
        return (Decimal(a) * Decimal(b)).quantize(P18, rounding=ROUND_HALF_EVEN)


def div(a, b):
    with localcontext() as ctx:
        ctx.prec = 120
        return (Decimal(a) / Decimal(b)).quantize(P10, rounding=ROUND_HALF_EVEN)


def div18(a, b):
    with localcontext() as ctx:
        ctx.prec = 120
        return (Decimal(a) / Decimal(b)).quantize(P18, rounding=ROUND_HALF_EVEN)


def long_term(acquired, sold):
    """Long-term when the sale's UTC date is after the first anniversary (29 Feb → 28 Feb)."""
    a, s = acquired.date(), sold.date()
    day = 28 if (a.month == 2 and a.day == 29) else a.day
    return (s.year, s.month, s.day) > (a.year + 1, a.month, day)


@dataclass
class Lot:
    lot_id: str
    seq: int
    acquired: datetime
    quantity: Decimal
    basis: Decimal
    holding_start: datetime = None  # earlier than `acquired` for a wash-sale replacement lot
    adjustment: Decimal = None  # disallowed loss in the basis of a replacement lot

    def __post_init__(self):
        if self.holding_start is None:
            self.holding_start = self.acquired

    def key(self):
        return (self.acquired, self.seq)


def in_window(a, b):
    """UTC dates at most 30 days apart (IRS Pub. 550 counts calendar days)."""
    return abs((a.date() - b.date()).days) <= 30


def split_lot(lot, shares):
    """(piece of `shares`, rest or None): basis by quantity, half-even at 10 places."""
    if shares >= lot.quantity:
        return lot, None
    piece_basis = div(mul(lot.basis, shares), lot.quantity)
    piece = Lot(lot.lot_id, lot.seq, lot.acquired, shares, piece_basis, lot.holding_start, lot.adjustment)
    lot.quantity -= shares
    lot.basis -= piece_basis
    return piece, lot


def carried(acquired, sold_at, sold_start):
    return acquired - max(sold_at - sold_start, timedelta(0))


@dataclass
class Loss:
    """A sale's loss part with shares not yet matched by replacement shares."""
    sale_id: str
    part: int
    sold_at: datetime
    holding_start: datetime
    quantity: Decimal
    loss: Decimal
    unmatched: Decimal

    def disallowed(self, shares):
        return self.loss if shares == self.quantity else div(mul(self.loss, shares), self.quantity)


@dataclass
class Position:
    ticker: str
    lots: list = field(default_factory=list)
    realized: Decimal = Decimal(0)
    next_lot: int = 1
    status: str = "OPEN"
    last_price: Decimal = None
    last_priced_at: datetime = None
    version: int = 0
    position_id: str = ""

    @property
    def quantity(self):
        return sum((l.quantity for l in self.lots), Decimal(0))

    @property
    def cost_basis(self):
        return sum((l.basis for l in self.lots), Decimal(0))

    def ordered(self):
        self.lots.sort(key=Lot.key)

    # Commands -----------------------------------------------------------------------
    def buy(self, quantity, price, fees, when, losses=()):
        """A buy; `losses` (the client's Loss list of the ticker) are matched oldest sale first:
        one replacement lot per match, then the unmatched rest. Returns the disallowed amounts."""
        rest = Lot(f"L{self.next_lot}", self.next_lot, when, Decimal(quantity), mul(quantity, price) + Decimal(fees or 0))
        created, disallowed = [], []
        for loss in sorted(losses, key=lambda l: (l.sold_at, l.sale_id, l.part)):
            if rest is None:
                break
            if loss.unmatched <= 0 or not in_window(loss.sold_at, when):
                continue
            shares = min(rest.quantity, loss.unmatched)
            amount = loss.disallowed(shares)
            piece, rest = split_lot(rest, shares)
            piece.basis += amount
            piece.adjustment = amount
            piece.holding_start = carried(when, loss.sold_at, loss.holding_start)
            loss.unmatched -= shares
            created.append(piece)
            disallowed.append((loss, amount))
        if rest is not None:
            created.append(rest)
        for index, lot in enumerate(created):
            lot.lot_id, lot.seq = f"L{self.next_lot + index}", self.next_lot + index
        self.next_lot += len(created)
        self.lots += created
        self.ordered()
        self.version += 1
        return disallowed

    def sell(self, quantity, price, fees, method, when, selections=(), sale_id=""):
        """Returns the realized parts [(lot_id, quantity, basis, proceeds, gain, long, disallowed)]
        and the losses left unmatched (Loss) for the client's ledger."""
        quantity, price, fees = Decimal(quantity), Decimal(price), Decimal(fees or 0)
        lots = self.lots
        if method == "AVERAGE":
            total_q, total_b = self.quantity, self.cost_basis
            left = total_b
            for index, lot in enumerate(lots):
                if index == len(lots) - 1:
                    lot.basis = left
                else:
                    lot.basis = div(mul(total_b, lot.quantity), total_q)
                    left -= lot.basis
        if method == "SPECIFIC_ID":
            by_id = {l.lot_id: l for l in lots}
            plan = [(by_id[lot_id], Decimal(q)) for lot_id, q in selections]
        else:
            if method in ("FIFO", "AVERAGE"):
                order = sorted(lots, key=Lot.key)
            elif method == "LIFO":
                order = sorted(lots, key=Lot.key, reverse=True)
            else:  # HIFO: unit cost (exact fraction) high to low, ties by acquisition
                order = sorted(lots, key=lambda l: (-Fraction(l.basis) / Fraction(l.quantity), l.acquired, l.seq))
            plan, left = [], quantity
            for lot in order:
                if left <= 0:
                    break
                take = min(left, lot.quantity)
                plan.append((lot, take))
                left -= take
        parts, fees_left = [], fees
        for step, (lot, take) in enumerate(plan):
            basis = lot.basis if take == lot.quantity else div(mul(lot.basis, take), lot.quantity)
            share = fees_left if step == len(plan) - 1 else div(mul(fees, take), quantity)
            fees_left -= share
            proceeds = mul(take, price) - share
            parts.append([lot.lot_id, take, basis, proceeds, proceeds - basis, long_term(lot.holding_start, when), Decimal(0),
                          lot.holding_start])
            lot.quantity -= take
            lot.basis -= basis
        self.lots = [l for l in lots if l.quantity > 0]
        self.realized += sum((p[4] for p in parts), Decimal(0))
        # Wash sales against the lots left open, bought within 30 days (not those sold from,
        # not replacement lots), in acquisition order.
        sold_from = {p[0] for p in parts}
        losses = []
        for index, part in enumerate(parts):
            if part[4] >= 0:
                continue
            loss = Loss(sale_id, index, when, part[7], part[1], -part[4], part[1])
            for lot in sorted(self.lots, key=Lot.key):
                if loss.unmatched <= 0:
                    break
                if lot.lot_id in sold_from or lot.adjustment is not None or not in_window(lot.acquired, when):
                    continue
                shares = min(lot.quantity, loss.unmatched)
                amount = loss.disallowed(shares)
                piece, rest = split_lot(lot, shares)
                if rest is not None:
                    piece.lot_id, piece.seq = f"L{self.next_lot}", self.next_lot
                    self.next_lot += 1
                    self.lots.append(piece)
                piece.basis += amount
                piece.adjustment = amount
                piece.holding_start = carried(piece.acquired, when, loss.holding_start)
                loss.unmatched -= shares
                part[6] += amount
            if loss.unmatched > 0:
                losses.append(loss)
        self.ordered()
        if not self.lots:
            self.status = "CLOSED"
        self.version += 1
        return [tuple(p[:7]) for p in parts], losses

    def split(self, to, frm, cash_price, when):
        """Returns the cash-in-lieu parts [(lot_id, quantity, basis, proceeds)]."""
        before = self.quantity
        for lot in self.lots:
            lot.quantity = div(mul(lot.quantity, to), frm)
        total = div(mul(before, to), frm)
        dust = total - self.quantity
        if dust != 0:
            largest = self.lots[0]
            for lot in self.lots:
                if lot.quantity > largest.quantity:
                    largest = lot
            largest.quantity += dust
        whole = total.to_integral_value(rounding=ROUND_DOWN)
        fraction = total - whole
        parts = []
        if fraction > 0:
            cash = mul(fraction, cash_price)
            cash_left, left = cash, fraction
            for lot in reversed(self.lots):  # the most recently acquired first
                if left <= 0:
                    break
                take = min(left, lot.quantity)
                basis = lot.basis if take == lot.quantity else div(mul(lot.basis, take), lot.quantity)
                left -= take
                proceeds = mul(take, cash_price) if left > 0 else cash_left
                cash_left -= proceeds
                parts.append((lot.lot_id, take, basis, proceeds))
                lot.quantity -= take
                lot.basis -= basis
            self.realized += cash - sum((p[2] for p in parts), Decimal(0))
            self.lots = [l for l in self.lots if l.quantity > 0]
        if self.last_price is not None:
            self.last_price = div18(self.last_price * frm, to)
        if not self.lots:
            self.status = "CLOSED"
        self.version += 1
        return parts

    def dividend(self, per_share, reinvest_price, when):
        amount = mul(self.quantity, per_share)
        if reinvest_price is not None:
            shares = div(amount, reinvest_price).quantize(P6, rounding=ROUND_DOWN)
            if shares > 0:
                self.lots.append(Lot(f"L{self.next_lot}", self.next_lot, when, shares, mul(shares, reinvest_price)))
                self.next_lot += 1
                self.ordered()
        self.version += 1

    def value(self, price, when):
        if self.last_priced_at is None or when >= self.last_priced_at:
            self.last_price, self.last_priced_at = Decimal(price), when
        self.version += 1

    @property
    def market_value(self):
        """The one valuation rule: quantity × last price; at cost when never priced."""
        if self.last_price is None:
            return self.cost_basis
        return mul(self.quantity, self.last_price)


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
