"""Sales, closes and valuations end to end (grpcio): figures computed by hand here."""
import os
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import grpc
from conftest import holdings_channel
import pytest

import samples
from test_event_backbone import expect_status

M = samples.holdings_modules()
pb = M["holdings_pb2"]
cb = M["cost_basis_pb2"]
common = M["common_pb2"]
cb_stubs = M["cost_basis_pb2_grpc"]


def ts(text):
    from google.protobuf import timestamp_pb2
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(datetime.fromisoformat(text).replace(tzinfo=timezone.utc))
    return value


def buy(stub, client, quantity, price, when, ticker="AAPL"):
    return stub.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker=ticker, quantity=quantity, price=price,
                                                    trade_time=ts(when)), timeout=10)


COST = {}


@pytest.fixture(scope="module")
def holdings(server):
    """(HoldingsService stub, CostBasisService stub) on one channel to the session's holdingsd."""
    address, _ = server
    channel = holdings_channel(address)
    stub = M["holdings_pb2_grpc"].HoldingsServiceStub(channel)
    COST[id(stub)] = cb_stubs.CostBasisServiceStub(channel)
    return stub, None


def cost_stub(stub):
    return COST[id(stub)]


@pytest.fixture
def book(holdings):
    """A client holding AAPL: L1 10 @ 100 (2024-01-10), L2 10 @ 150 (2025-06-01), L3 10 @ 120 (2025-09-01)."""
    stub, _ = holdings
    client = "sale-" + uuid.uuid4().hex[:8]
    buy(stub, client, "10", "100", "2024-01-10T15:00:00")
    buy(stub, client, "10", "150", "2025-06-01T15:00:00")
    last = buy(stub, client, "10", "120", "2025-09-01T15:00:00")
    return stub, client, last.position.position_id


def sell(stub, client, quantity, price, method, when="2025-12-01T15:00:00", fees="", selections=(), dry_run=False):
    request = cb.SellLotsRequest(client_id=client, ticker="AAPL", quantity=quantity, price=price, method=method,
                                 trade_time=ts(when), fees=fees, dry_run=dry_run,
                                 lot_selections=[common.LotSelection(lot_id=l, quantity=q) for l, q in selections])
    return cost_stub(stub).SellLots(request, timeout=10)


def test_sales_by_each_method_with_hand_computed_gains(book):
    stub, client, position_id = book
    trail = lambda: stub.ListEvents(pb.ListEventsRequest(position_id=position_id), timeout=10).events

    # Dry run, FIFO 15 @ 200 with 3 of fees: L1 10 (basis 1000, proceeds 2000 - 2, long term),
    # L2 5 (basis 750, proceeds 1000 - 1, short term). Nothing is recorded.
    dry = sell(stub, client, "15", "200", common.FIFO, fees="3", dry_run=True)
    assert dry.dry_run and not dry.event_id
    assert [(r.lot_id, r.quantity, r.cost_basis, r.proceeds, r.realized_gain, r.term) for r in dry.realized] == [
        ("L1", "10", "1000", "1998", "998", common.LONG_TERM), ("L2", "5", "750", "999", "249", common.SHORT_TERM)]
    assert (dry.gains.long_term, dry.gains.short_term, dry.gains.total) == ("998", "249", "1247")
    assert (dry.total_proceeds, dry.total_cost_basis) == ("2997", "1750")
    assert len(trail()) == 3
    assert stub.GetPosition(pb.GetPositionRequest(position_id=position_id)).position.quantity == "30"

    # HIFO 5 @ 200: L2 (unit cost 150) first.
    hifo = sell(stub, client, "5", "200", common.HIFO)
    assert [(r.lot_id, r.quantity, r.realized_gain) for r in hifo.realized] == [("L2", "5", "250")]
    assert hifo.position.quantity == "25" and hifo.position.cost_basis == "2950" and hifo.position.version == 4
    # SPECIFIC_ID: 2 of L3 and 1 of L1 @ 130.
    specific = sell(stub, client, "3", "130", common.SPECIFIC_ID, selections=[("L3", "2"), ("L1", "1")])
    assert [(r.lot_id, r.realized_gain) for r in specific.realized] == [("L3", "20"), ("L1", "30")]
    # LIFO 4 @ 110: L3 (newest) first: 4 × (110 - 120) = -40.
    lifo = sell(stub, client, "4", "110", common.LIFO)
    assert [(r.lot_id, r.quantity, r.realized_gain) for r in lifo.realized] == [("L3", "4", "-40")]
    position = lifo.position
    assert [(l.lot_id, l.quantity, l.cost_basis) for l in position.lots] == [("L1", "9", "900"), ("L2", "5", "750"), ("L3", "4", "480")]
    assert position.realized_gain == "260"  # 250 + 20 + 30 - 40

    # Mark and read back: 18 shares @ 125 = 2250 against a basis of 2130.
    valued = stub.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=position_id, price="125"), timeout=10)
    assert (valued.position.market_value, valued.position.unrealized_gain, valued.position.last_price) == ("2250", "120", "125")
    summary = cost_stub(stub).GetCostBasisSummary(cb.GetCostBasisSummaryRequest(client_id=client, ticker="AAPL"), timeout=10)
    assert (summary.total_quantity, summary.total_cost_basis, summary.market_value) == ("18", "2130", "2250")
    assert summary.average_cost == str(Decimal("2130") / Decimal("18"))[:14].rstrip("0")  # 118.3333333333
    unrealized = cost_stub(stub).GetUnrealizedGainLoss(cb.GetUnrealizedGainLossRequest(client_id=client), timeout=10)
    assert [(l.lot.lot_id, l.lot.unrealized_gain) for l in unrealized.lots] == [("L1", "225"), ("L2", "-125"), ("L3", "20")]
    assert unrealized.totals.total == "120"

    # Close by FIFO @ 90: every lot, POSITION_CLOSED; closing again is refused.
    closed = stub.ClosePosition(pb.ClosePositionRequest(position_id=position_id, price="90", method=common.FIFO,
                                                        trade_time=ts("2025-12-02T10:00:00")), timeout=10)
    assert [(r.lot_id, r.realized_gain) for r in closed.realized] == [("L1", "-90"), ("L2", "-300"), ("L3", "-120")]
    assert closed.position.status == common.POSITION_STATUS_CLOSED and not closed.position.lots
    assert closed.position.realized_gain == "-250"  # 260 - 510
    assert closed.gains.total == "-510"
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: stub.ClosePosition(
        pb.ClosePositionRequest(position_id=position_id, price="90", method=common.FIFO), timeout=10), "closed")
    assert stub.ListPositions(pb.ListPositionsRequest(client_id=client)).positions == []
    assert len(stub.ListPositions(pb.ListPositionsRequest(client_id=client, include_closed=True)).positions) == 1
    types = [e.event_type for e in trail()]
    E = M["events_pb2"].EventType
    assert types == [E.POSITION_OPENED, E.LOT_ADDED, E.LOT_ADDED, E.LOTS_SOLD, E.LOTS_SOLD, E.LOTS_SOLD,
                     E.POSITION_VALUED, E.POSITION_CLOSED]

    # Realized gains by period and term.
    gains = lambda **kw: cost_stub(stub).GetRealizedGains(cb.GetRealizedGainsRequest(client_id=client, **kw), timeout=10)
    december_1 = gains(start_time=ts("2025-12-01T00:00:00"), end_time=ts("2025-12-02T00:00:00"))
    assert len(december_1.sales) == 3
    assert (december_1.totals.short_term, december_1.totals.long_term, december_1.totals.total) == ("230", "30", "260")
    everything = gains()
    assert [s.event_id for s in everything.sales][-1] == closed.event_id
    assert (everything.totals.short_term, everything.totals.long_term, everything.totals.total) == ("-190", "-60", "-250")
    assert gains(ticker="MSFT").sales == []
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: gains(start_time=ts("2025-12-02T00:00:00"), end_time=ts("2025-12-01T00:00:00")), "end_time")

    # Rebuilt from its events alone, the position equals what the live calls returned.
    for version, live in [(4, hifo.position), (6, lifo.position), (7, valued.position), (8, closed.position)]:
        rebuilt = stub.ReconstructPosition(pb.ReconstructPositionRequest(position_id=position_id, as_of_version=version),
                                           timeout=10)
        assert len(rebuilt.events) == version
        got = rebuilt.position
        assert (got.quantity, got.cost_basis, got.realized_gain, got.version, got.status, got.last_price) == \
            (live.quantity, live.cost_basis, live.realized_gain, live.version, live.status, live.last_price)
        assert [(l.lot_id, l.quantity, l.cost_basis) for l in got.lots] == [(l.lot_id, l.quantity, l.cost_basis) for l in live.lots]


def test_average_cost_sale(holdings):
    stub, _ = holdings
    client = "avg-" + uuid.uuid4().hex[:8]
    buy(stub, client, "10", "100", "2025-01-10T15:00:00")
    buy(stub, client, "20", "130", "2025-02-10T15:00:00")
    # Average 120: selling 15 @ 150 realizes 15 × 30 = 450; 15 shares keep a basis of 1800.
    sale = sell(stub, client, "15", "150", common.AVERAGE)
    assert sum(Decimal(r.realized_gain) for r in sale.realized) == Decimal("450")
    assert sale.position.cost_basis == "1800" and sale.position.average_cost == "120"


def test_bad_sales_are_refused_and_record_nothing(book):
    stub, client, position_id = book
    before = len(stub.ListEvents(pb.ListEventsRequest(position_id=position_id), timeout=10).events)
    expect_status(grpc.StatusCode.FAILED_PRECONDITION, lambda: sell(stub, client, "31", "10", common.FIFO), "30")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: sell(stub, client, "1", "10", common.COST_BASIS_METHOD_UNSPECIFIED), "method")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: sell(stub, client, "1", "10", common.SPECIFIC_ID), "lot_selections")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: sell(stub, client, "1", "10", common.SPECIFIC_ID, selections=[("L9", "1")]), "lot_selections", "L9")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: sell(stub, client, "11", "10", common.SPECIFIC_ID, selections=[("L1", "11")]), "lot_selections")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: sell(stub, client, "2", "10", common.FIFO, selections=[("L1", "2")]), "lot_selections")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: sell(stub, client, "1", "-10", common.FIFO), "price")
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: cost_stub(stub).SellLots(
        cb.SellLotsRequest(client_id=client, ticker="MSFT", quantity="1", price="1", method=common.FIFO), timeout=10), "MSFT")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.ClosePosition(
        pb.ClosePositionRequest(position_id=position_id, price="1", method=common.SPECIFIC_ID), timeout=10), "method")
    expect_status(grpc.StatusCode.NOT_FOUND, lambda: stub.ClosePosition(
        pb.ClosePositionRequest(position_id="pos-unknown", price="1", method=common.FIFO), timeout=10), "pos-unknown")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.UpdatePositionValue(
        pb.UpdatePositionValueRequest(position_id=position_id, price="0"), timeout=10), "price")
    after = len(stub.ListEvents(pb.ListEventsRequest(position_id=position_id), timeout=10).events)
    assert after == before


def test_portfolio_value_and_weights(holdings):
    stub, _ = holdings
    client = "pf-" + uuid.uuid4().hex[:8]
    a = buy(stub, client, "10", "10", "2025-03-01T10:00:00", ticker="AAA").position.position_id
    b = buy(stub, client, "5", "20", "2025-03-01T10:00:00", ticker="BBB").position.position_id
    c = buy(stub, client, "1", "1", "2025-03-01T10:00:00", ticker="CCC").position.position_id
    stub.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=a, price="12"), timeout=10)
    stub.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=b, price="16"), timeout=10)
    value = stub.GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client), timeout=10)
    # A position never priced counts at cost (CCC: 1), in the totals and the weights; ordered by ticker.
    assert (value.market_value, value.cost_basis, value.unrealized_gain) == ("201", "201", "0")
    assert [(p.ticker, p.market_value, p.weight, p.unrealized_gain) for p in value.positions] == [
        ("AAA", "120", "0.5970149254", "20"), ("BBB", "80", "0.3980099502", "-20"), ("CCC", "1", "0.0049751244", "0")]
    assert list(value.unpriced_position_ids) == [c]
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.GetPortfolioValue(pb.GetPortfolioValueRequest()), "client_id")


def test_publish_prices_revalues_every_holder_once(holdings):
    stub, _ = holdings
    tag = uuid.uuid4().hex[:6].upper()
    a, b = f"PA{tag}", f"PB{tag}"
    first = buy(stub, "pp1-" + tag, "10", "8", "2025-03-01T10:00:00", ticker=a).position.position_id
    second = buy(stub, "pp2-" + tag, "4", "12", "2025-03-01T10:00:00", ticker=a).position.position_id
    third = buy(stub, "pp2-" + tag, "2", "30", "2025-03-01T10:00:00", ticker=b).position.position_id
    quotes = [common.PriceQuote(ticker=a, price="10"), common.PriceQuote(ticker=b, price="25"),
              common.PriceQuote(ticker=f"NO{tag}", price="1")]
    request_id = str(uuid.uuid4())
    published = stub.PublishPrices(pb.PublishPricesRequest(prices=quotes, request_id=request_id), timeout=30)
    assert published.positions_revalued == 3 and list(published.unheld_tickers) == [f"NO{tag}"]
    got = {p: stub.GetPosition(pb.GetPositionRequest(position_id=p)).position for p in (first, second, third)}
    assert [(got[p].last_price, got[p].market_value, got[p].unrealized_gain) for p in (first, second, third)] == [
        ("10", "100", "20"), ("10", "40", "-8"), ("25", "50", "-10")]
    versions = [got[p].version for p in (first, second, third)]
    again = stub.PublishPrices(pb.PublishPricesRequest(prices=quotes, request_id=request_id), timeout=30)
    assert again == published
    assert [stub.GetPosition(pb.GetPositionRequest(position_id=p)).position.version for p in (first, second, third)] == versions
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.PublishPrices(
        pb.PublishPricesRequest(prices=quotes[:1], request_id=request_id), timeout=10), "request_id")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.PublishPrices(pb.PublishPricesRequest(), timeout=10), "prices")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.PublishPrices(
        pb.PublishPricesRequest(prices=[quotes[0], quotes[0]]), timeout=10), "prices[1].ticker")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.PublishPrices(
        pb.PublishPricesRequest(prices=[common.PriceQuote(ticker=a, price="-1")]), timeout=10), "prices[0].price")
    too_many = [common.PriceQuote(ticker=f"T{i}", price="1") for i in range(10001)]
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.PublishPrices(
        pb.PublishPricesRequest(prices=too_many), timeout=10), "prices")


def test_watch_events_live_and_replayed(holdings):
    stub, _ = holdings
    client = "watch-" + uuid.uuid4().hex[:8]
    E = M["events_pb2"].EventType
    first = buy(stub, client, "3", "10", "2025-03-01T10:00:00", ticker="WAT")
    live = stub.WatchEvents(pb.WatchEventsRequest(client_id=client), timeout=30)
    replay = stub.WatchEvents(pb.WatchEventsRequest(client_id=client, replay_from_start=True), timeout=30)
    sold_only = stub.WatchEvents(pb.WatchEventsRequest(client_id=client, event_types=[E.LOTS_SOLD]), timeout=30)
    import time
    time.sleep(0.3)  # the subscriptions are registered when the server has the requests
    second = buy(stub, client, "2", "11", "2025-03-02T10:00:00", ticker="WAT")
    sale = sell_ticker(stub, client, "WAT", "1", "12")
    assert [next(live).event.event_id for _ in range(2)] == [second.event_id, sale.event_id]
    assert [next(replay).event.event_id for _ in range(3)] == [first.event_id, second.event_id, sale.event_id]
    assert next(sold_only).event.event_id == sale.event_id
    for call in (live, replay, sold_only):
        call.cancel()
    with pytest.raises(grpc.RpcError) as raised:
        next(stub.WatchEvents(pb.WatchEventsRequest(event_types=[77]), timeout=10))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "event_types" in raised.value.details()


def sell_ticker(stub, client, ticker, quantity, price):
    return cost_stub(stub).SellLots(cb.SellLotsRequest(client_id=client, ticker=ticker, quantity=quantity, price=price,
                                                       method=common.FIFO), timeout=10)


def test_a_slow_watcher_is_cut_off_without_slowing_writers(postgres):
    from conftest import binary, holdingsd_command, start, stop, token
    import subprocess
    process, address = start(holdingsd_command(postgres.new_database(), "--watch-buffer", "20"))
    try:
        # No BDP probing: the client's receive window stays at 64 KiB while it reads nothing.
        channel = holdings_channel(address, options=[("grpc.http2.bdp_probe", 0)])
        stub = M["holdings_pb2_grpc"].HoldingsServiceStub(channel)
        watch = stub.WatchEvents(pb.WatchEventsRequest(), timeout=120)
        import time
        time.sleep(0.3)
        # 8,000 writes (more than the HTTP/2 window and the server's 1 MiB send buffer hold) while the
        # watcher reads nothing; the writers are not slowed by it.
        load = subprocess.run([binary("holdings-load"), "--server", address, "--calls", "8000", "--concurrency", "32",
                               "--max-seconds", "60"], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "HOLDINGS_TOKEN": token()})
        assert "calls ok 8000" in load.stdout, load.stdout + load.stderr
        received = 0
        with pytest.raises(grpc.RpcError) as raised:
            for _ in watch:
                received += 1
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, raised.value.details()
        assert 0 < received < 8000
    finally:
        stop(process)


def test_splits_and_dividends_for_every_holder(holdings):
    stub, _ = holdings
    tag = uuid.uuid4().hex[:6].upper()
    ticker = f"CA{tag}"
    client = "ca-" + tag
    buy(stub, client, "10", "100", "2025-01-10T10:00:00", ticker=ticker)
    position_id = buy(stub, client, "5", "120", "2025-02-10T10:00:00", ticker=ticker).position.position_id
    other = buy(stub, "ca2-" + tag, "25", "10", "2025-02-10T10:00:00", ticker=ticker).position.position_id
    apply = lambda **kw: stub.ApplyCorporateAction(pb.ApplyCorporateActionRequest(ticker=ticker, **kw), timeout=30)
    CA = M["events_pb2"]

    # A fraction without a cash-in-lieu price: refused before any holder changes.
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: apply(type=CA.SPLIT, split_to="3", split_from="2"),
                  "cash_in_lieu_price")
    assert stub.GetPosition(pb.GetPositionRequest(position_id=other)).position.version == 1

    # 3-for-2 at 90 in lieu: L1 10 -> 15, L2 5 -> 7.5; the half share leaves L2 (basis 600 × 0.5/7.5 = 40)
    # for 45 of cash: a gain of 5. The other holder: 25 -> 37.5, half a share (basis 250 × 0.5/37.5) paid 45.
    request_id = str(uuid.uuid4())
    split = apply(type=CA.SPLIT, split_to="3", split_from="2", cash_in_lieu_price="90", request_id=request_id)
    mine = [r for r in split.results if r.position_id == position_id][0]
    assert (mine.quantity_before, mine.quantity_after, mine.cash_in_lieu, mine.cash_in_lieu_gain) == ("15", "22", "45", "5")
    assert [(l.lot_id, l.quantity, l.cost_basis) for l in mine.lots_after] == [("L1", "15", "1000"), ("L2", "7", "560")]
    assert len(split.results) == 2 and all(r.action_id == split.action_id for r in split.results)
    assert apply(type=CA.SPLIT, split_to="3", split_from="2", cash_in_lieu_price="90", request_id=request_id) == split
    position = stub.GetPosition(pb.GetPositionRequest(position_id=position_id)).position
    assert (position.quantity, position.cost_basis, position.realized_gain) == ("22", "1560", "5")
    assert position.lots[0].acquired_at == ts("2025-01-10T10:00:00")  # splits keep acquisition times
    # A sale after the split uses the split lots: FIFO 3 of L1 (15 shares, basis 1000) at 80.
    after_split = cost_stub(stub).SellLots(cb.SellLotsRequest(
        client_id=client, ticker=ticker, quantity="3", price="80", method=common.FIFO), timeout=10)
    assert [(r.lot_id, r.cost_basis, r.realized_gain, r.term) for r in after_split.realized] == [
        ("L1", "200", "40", common.LONG_TERM)]
    position = after_split.position
    assert (position.quantity, position.cost_basis, position.realized_gain) == ("19", "1360", "45")

    # A reinvested dividend of 0.5 per share at 20: 19 × 0.5 = 9.5 buys 0.475 shares (lot L3).
    dividend = apply(type=CA.CASH_DIVIDEND, dividend_per_share="0.5", reinvest=True, reinvestment_price="20",
                     effective_at=ts("2025-06-30T00:00:00"))
    mine = [r for r in dividend.results if r.position_id == position_id][0]
    assert (mine.dividend_amount, mine.reinvested_lot.lot_id, mine.reinvested_lot.quantity, mine.reinvested_lot.cost_basis) == \
        ("9.5", "L3", "0.475", "9.5")
    assert mine.reinvested_lot.acquired_at == ts("2025-06-30T00:00:00")
    cash_only = apply(type=CA.CASH_DIVIDEND, dividend_per_share="1")
    assert [r.dividend_amount for r in cash_only.results if r.position_id == position_id] == ["19.475"]
    position = stub.GetPosition(pb.GetPositionRequest(position_id=position_id)).position
    assert (position.quantity, position.cost_basis, [l.lot_id for l in position.lots]) == ("19.475", "1369.5", ["L1", "L2", "L3"])

    # The events alone rebuild the same position.
    rebuilt = stub.ReconstructPosition(pb.ReconstructPositionRequest(position_id=position_id), timeout=10).position
    assert [(l.lot_id, l.quantity, l.cost_basis) for l in rebuilt.lots] == [(l.lot_id, l.quantity, l.cost_basis) for l in position.lots]
    assert (rebuilt.realized_gain, rebuilt.version) == (position.realized_gain, position.version)

    for bad, field in [(dict(type=CA.SPLIT, split_to="0", split_from="2"), "split_to"),
                       (dict(type=CA.SPLIT, split_to="2", split_from="x"), "split_from"),
                       (dict(type=CA.CASH_DIVIDEND), "dividend_per_share"),
                       (dict(type=CA.CASH_DIVIDEND, dividend_per_share="1", reinvest=True), "reinvestment_price"),
                       (dict(), "type")]:
        expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: apply(**bad), field)


def test_tax_loss_harvest_candidates_with_wash_sale_warnings(holdings):
    stub, _ = holdings
    tag = uuid.uuid4().hex[:6].upper()
    client = "tlh-" + tag
    x, y = f"X{tag}", f"Y{tag}"
    buy(stub, client, "10", "50", "2024-01-10T10:00:00", ticker=x)            # L1: long term, basis 500
    buy(stub, client, "10", "45", "2025-10-01T10:00:00", ticker=x)            # L2: short term, basis 450
    px = buy(stub, client, "1", "30", "2025-11-20T10:00:00", ticker=x).position.position_id  # L3: inside the 30 days
    py = buy(stub, client, "4", "10", "2025-01-10T10:00:00", ticker=y).position.position_id
    stub.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=px, price="40"), timeout=10)
    stub.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=py, price="12"), timeout=10)
    ask = lambda **kw: cost_stub(stub).GetTaxLossHarvestCandidates(cb.GetTaxLossHarvestCandidatesRequest(
        client_id=client, as_of=ts("2025-12-01T00:00:00"), **kw), timeout=10)
    result = ask()
    # L1 loses 100 (long, 20% -> 20), L2 loses 50 (short, 37% -> 18.5); L3 and Y gain.
    assert [(c.lot.lot_id, c.unrealized_loss, c.term, c.estimated_tax_benefit) for c in result.candidates] == [
        ("L1", "100", common.LONG_TERM, "20"), ("L2", "50", common.SHORT_TERM, "18.5")]
    assert all(c.wash_sale_risk and "L3" in c.wash_sale_reason for c in result.candidates)
    assert (result.total_harvestable_loss, result.total_estimated_benefit) == ("150", "38.5")
    assert [c.lot.lot_id for c in ask(min_loss="60").candidates] == ["L1"]
    assert ask(short_term_tax_rate="0.5").candidates[1].estimated_tax_benefit == "25"
    later = cost_stub(stub).GetTaxLossHarvestCandidates(cb.GetTaxLossHarvestCandidatesRequest(
        client_id=client, as_of=ts("2026-01-15T00:00:00")), timeout=10)
    assert not any(c.wash_sale_risk for c in later.candidates)
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: ask(long_term_tax_rate="1.5"), "long_term_tax_rate")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: ask(min_loss="-1"), "min_loss")


def test_monitor_portfolio_alerts(holdings):
    stub, _ = holdings
    tag = uuid.uuid4().hex[:6].upper()
    client = "mon-" + tag
    a, b, c = f"MA{tag}", f"MB{tag}", f"MC{tag}"
    pa = buy(stub, client, "10", "10", "2025-01-10T10:00:00", ticker=a).position.position_id
    pb_ = buy(stub, client, "10", "10", "2025-01-10T10:00:00", ticker=b).position.position_id
    pc = buy(stub, client, "0.01", "10", "2025-01-10T10:00:00", ticker=c).position.position_id
    stub.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=pa, price="10"), timeout=10)
    stub.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=pb_, price="30"), timeout=10)
    for price in ["10", "10.1", "10", "10.2", "10.1", "10.2", "10.1", "20"]:
        stub.UpdatePositionValue(pb.UpdatePositionValueRequest(position_id=pc, price=price), timeout=10)
    result = stub.MonitorPortfolio(pb.MonitorPortfolioRequest(client_id=client, target_weights={a: "0.5", b: "0.5"},
                                                              drift_threshold="0.1"), timeout=10)
    found = {(alert.kind, alert.ticker, alert.severity) for alert in result.alerts}
    assert (common.CONCENTRATION, b, common.CRITICAL) in found          # 300 of ~400
    assert (common.DRIFT, a, common.CRITICAL) in found and (common.DRIFT, b, common.CRITICAL) in found
    assert (common.ANOMALY, c, common.CRITICAL) in found                 # a doubling after moves of about 1%
    assert (common.RISK, "", common.WARNING) in found                    # Herfindahl ~0.62
    assert result.alerts[0].severity == common.CRITICAL and result.alerts[-1].severity == common.WARNING
    drift_a = [x for x in result.alerts if x.kind == common.DRIFT and x.ticker == a][0]
    assert Decimal(drift_a.observed) < Decimal("-0.24") and drift_a.threshold == "0.1"
    quiet = stub.MonitorPortfolio(pb.MonitorPortfolioRequest(client_id=client, concentration_limit="0.9"), timeout=10)
    assert {x.kind for x in quiet.alerts} == {common.ANOMALY, common.RISK}
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.MonitorPortfolio(pb.MonitorPortfolioRequest(
        client_id=client, target_weights={a: "0.8", b: "0.8"})), "target_weights")
    expect_status(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.MonitorPortfolio(pb.MonitorPortfolioRequest(
        client_id=client, drift_threshold="2")), "drift_threshold")
