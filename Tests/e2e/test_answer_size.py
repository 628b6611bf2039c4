"""Answers stay small however big a position grows: max_lots / lots_offset / lot_count on
every answer that carries a position, max_events / event_count on ReconstructPosition.
The figures are checked against what the test bought, through grpcio."""
import uuid
from decimal import Decimal

import grpc
import pytest
from conftest import holdings_channel

import samples
from test_event_backbone import expect_status

N = 1020  # lots: past the default of 1,000 a position answer carries

M = samples.holdings_modules()
pb = M["holdings_pb2"]
cb = M["cost_basis_pb2"]


@pytest.fixture(scope="module")
def stubs(server):
    address, _ = server
    channel = holdings_channel(address)
    return M["holdings_pb2_grpc"].HoldingsServiceStub(channel), M["cost_basis_pb2_grpc"].CostBasisServiceStub(channel)


@pytest.fixture(scope="module")
def grown(stubs):
    """A position of N lots: lot Li (1-based) is 1 share bought at 10 + i % 7."""
    holdings, _ = stubs
    client = "size-" + uuid.uuid4().hex[:8]
    answer = None
    for i in range(1, N + 1):
        answer = holdings.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker="BIG", quantity="1",
                                                              price=str(10 + i % 7)), timeout=30)
    return client, answer


def test_position_answers_carry_the_first_thousand_lots_by_default_and_count_them_all(stubs, grown):
    holdings, _ = stubs
    client, last = grown
    # The last buy's answer: 1,000 lots of 1,205, the bought lot itself in `lot`.
    assert last.position.lot_count == N
    assert len(last.position.lots) == 1000
    assert [lot.lot_id for lot in last.position.lots[:3]] == ["L1", "L2", "L3"]
    assert last.lot.lot_id == f"L{N}" and last.lot.quantity == "1"
    assert Decimal(last.position.quantity) == N
    # The totals are the whole position's, not the carried lots'.
    expected_basis = sum(Decimal(10 + i % 7) for i in range(1, N + 1))
    assert Decimal(last.position.cost_basis) == expected_basis
    whole = holdings.GetPosition(pb.GetPositionRequest(position_id=last.position.position_id, max_lots=100_000), timeout=10)
    assert len(whole.position.lots) == N and whole.position.lot_count == N


def test_get_position_pages_through_lots_with_lots_offset(stubs, grown):
    holdings, _ = stubs
    _, last = grown
    position_id = last.position.position_id
    seen = []
    offset = 0
    while True:
        page = holdings.GetPosition(pb.GetPositionRequest(position_id=position_id, max_lots=300, lots_offset=offset), timeout=10)
        seen += [lot.lot_id for lot in page.position.lots]
        offset += len(page.position.lots)
        if offset >= page.position.lot_count:
            break
    assert seen == [f"L{i}" for i in range(1, N + 1)]
    empty = holdings.GetPosition(pb.GetPositionRequest(position_id=position_id, lots_offset=N), timeout=10)
    assert len(empty.position.lots) == 0 and empty.position.lot_count == N
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: holdings.GetPosition(pb.GetPositionRequest(position_id=position_id, lots_offset=N + 1), timeout=10),
                  "lots_offset")
    for bad in (-1, 100_001):
        expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                      lambda: holdings.GetPosition(pb.GetPositionRequest(position_id=position_id, max_lots=bad), timeout=10),
                      "max_lots")


def test_max_lots_shapes_only_the_answer_of_a_write_and_a_retry_may_change_it(stubs, grown):
    holdings, costs = stubs
    client, last = grown
    request = pb.OpenPositionRequest(client_id=client, ticker="BIG", quantity="2", price="20",
                                      request_id="grow-" + uuid.uuid4().hex[:8], max_lots=3)
    first = holdings.OpenPosition(request, timeout=10)
    assert len(first.position.lots) == 3 and first.position.lot_count == N + 1
    request.max_lots = 7
    again = holdings.OpenPosition(request, timeout=10)
    assert again.event_id == first.event_id, "a retry with another max_lots was taken for a new request"
    assert len(again.position.lots) == 7 and again.position.lot_count == N + 1
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: holdings.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker="BIG", quantity="1", price="1",
                                                                       max_lots=-5), timeout=10), "max_lots")
    sold = costs.SellLots(cb.SellLotsRequest(client_id=client, ticker="BIG", quantity="1", price="30", dry_run=True, method=M["common_pb2"].FIFO,
                                             max_lots=2), timeout=10)
    assert len(sold.position.lots) == 2 and sold.position.lot_count == N  # FIFO: L1 (1 share) sold out
    assert sold.position.lots[0].lot_id == "L2"


def test_reconstruct_position_carries_the_last_events_and_counts_them(stubs, grown):
    holdings, _ = stubs
    _, last = grown
    position_id = last.position.position_id
    rebuilt = holdings.ReconstructPosition(pb.ReconstructPositionRequest(position_id=position_id, as_of_version=N), timeout=30)
    assert rebuilt.event_count == N
    assert len(rebuilt.events) == 1000
    assert [e.aggregate_version for e in rebuilt.events[:2]] == [N - 999, N - 998] and rebuilt.events[-1].aggregate_version == N
    assert rebuilt.position.lot_count == N and len(rebuilt.position.lots) == 1000
    assert rebuilt.ByteSize() < 4 * 1024 * 1024
    few = holdings.ReconstructPosition(pb.ReconstructPositionRequest(position_id=position_id, as_of_version=10, max_events=3,
                                                                     max_lots=4), timeout=30)
    assert few.event_count == 10 and [e.aggregate_version for e in few.events] == [8, 9, 10]
    assert few.position.lot_count == 10 and len(few.position.lots) == 4
    expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                  lambda: holdings.ReconstructPosition(pb.ReconstructPositionRequest(position_id=position_id, max_events=10_001),
                                                       timeout=10), "max_events")


def test_portfolio_value_pages_positions_and_keeps_totals_over_all(stubs):
    """GetPortfolioValue lists at most max_positions (0 means 1,000) from positions_offset, in
    ticker order; totals, weights and position_count cover every open position."""
    holdings, _ = stubs
    client = "pages-" + uuid.uuid4().hex[:8]
    tickers = [f"T{i:03d}" for i in range(1, 38)]
    for i, ticker in enumerate(reversed(tickers)):  # opened out of ticker order
        holdings.OpenPosition(pb.OpenPositionRequest(client_id=client, ticker=ticker, quantity=str(1 + i % 4),
                                                     price=str(20 + i % 9)), timeout=30)
    whole = holdings.GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client), timeout=10)
    assert whole.position_count == 37 and [w.ticker for w in whole.positions] == tickers
    assert Decimal(whole.market_value) == sum(Decimal(w.market_value) for w in whole.positions)
    listed = []
    for offset in range(0, 40, 10):
        page = holdings.GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client, max_positions=10, positions_offset=offset),
                                          timeout=10)
        assert page.position_count == 37
        assert (page.market_value, page.cost_basis, page.unrealized_gain) == (whole.market_value, whole.cost_basis, whole.unrealized_gain)
        assert len(page.positions) == min(10, 37 - offset)
        listed += list(page.positions)
    assert listed == list(whole.positions)  # same weights: relative to the whole portfolio
    past = holdings.GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client, positions_offset=500), timeout=10)
    assert len(past.positions) == 0 and past.position_count == 37 and past.market_value == whole.market_value
    for bad in (dict(max_positions=-1), dict(max_positions=100_001), dict(positions_offset=-3)):
        expect_status(grpc.StatusCode.INVALID_ARGUMENT,
                      lambda: holdings.GetPortfolioValue(pb.GetPortfolioValueRequest(client_id=client, **bad), timeout=10),
                      "max_positions" if "max_positions" in bad else "positions_offset")
