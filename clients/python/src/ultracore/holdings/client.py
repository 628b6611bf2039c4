"""A small layer over the generated stubs: one object holding a channel with its bearer
token, the six service stubs, and conversions for the two conventions of the contract:
amounts are exact decimal strings (`Decimal` here) and times are `google.protobuf.Timestamp`
(`datetime` here).

    from ultracore.holdings.client import HoldingsClient, decimal
    with HoldingsClient("127.0.0.1:50051", token=TOKEN) as h:
        bought = h.open_position("c1", "AAPL", quantity=10, price="150.25")
        print(decimal(bought.position.cost_basis))
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

import grpc
from google.protobuf import timestamp_pb2

from ultracore.holdings.v1 import (agent_pb2_grpc, analytics_pb2_grpc, common_pb2, cost_basis_pb2, cost_basis_pb2_grpc,
                                   data_mesh_pb2_grpc, holdings_pb2, holdings_pb2_grpc, rebalancing_pb2_grpc)

__all__ = ["HoldingsClient", "decimal", "amount", "timestamp", "to_datetime"]


def decimal(text: str) -> Decimal:
    """An amount of the contract (exact decimal string; empty means 0) as a Decimal."""
    return Decimal(text) if text else Decimal(0)


def amount(value: Decimal | int | str | float) -> str:
    """A Python number as the contract's decimal string. Floats go through repr, so 0.1 is
    "0.1", not 0.1000000000000000055511151231257827."""
    if isinstance(value, float):
        value = Decimal(repr(value))
    text = format(Decimal(value), "f")
    return text


def timestamp(when: datetime) -> timestamp_pb2.Timestamp:
    """A timezone-aware datetime as a Timestamp (naive datetimes are refused: ambiguous)."""
    if when.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous: give it a timezone (datetime.now(timezone.utc))")
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(when.astimezone(timezone.utc))
    return value


def to_datetime(value: timestamp_pb2.Timestamp) -> datetime:
    """A Timestamp as an aware UTC datetime."""
    return value.ToDatetime(tzinfo=timezone.utc)


class HoldingsClient:
    """The six services over one channel: `holdings`, `cost_basis`, `analytics`,
    `rebalancing`, `agent`, `data_mesh` are the generated stubs; a few shortcuts below
    take Python values. Every call carries the bearer token; writes get a request id
    (the idempotency key) unless one is given."""

    def __init__(self, target: str, token: str | None = None, *, root_certificates: bytes | None = None,
                 timeout: float = 30.0, options=None):
        if root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
        else:
            credentials = grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP)
        if token:
            credentials = grpc.composite_channel_credentials(credentials, grpc.access_token_call_credentials(token))
        self.channel = grpc.secure_channel(target, credentials, options=options or [])
        self.timeout = timeout
        self.holdings = holdings_pb2_grpc.HoldingsServiceStub(self.channel)
        self.cost_basis = cost_basis_pb2_grpc.CostBasisServiceStub(self.channel)
        self.analytics = analytics_pb2_grpc.AnalyticsServiceStub(self.channel)
        self.rebalancing = rebalancing_pb2_grpc.RebalancingServiceStub(self.channel)
        self.agent = agent_pb2_grpc.AgentServiceStub(self.channel)
        self.data_mesh = data_mesh_pb2_grpc.DataMeshServiceStub(self.channel)

    def __enter__(self) -> "HoldingsClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def open_position(self, client_id: str, ticker: str, *, quantity, price, fees=None, trade_time: datetime | None = None,
                      request_id: str | None = None) -> holdings_pb2.OpenPositionResponse:
        request = holdings_pb2.OpenPositionRequest(client_id=client_id, ticker=ticker, quantity=amount(quantity), price=amount(price),
                                                   fees=amount(fees) if fees is not None else "",
                                                   request_id=request_id or uuid.uuid4().hex)
        if trade_time is not None:
            request.trade_time.CopyFrom(timestamp(trade_time))
        return self.holdings.OpenPosition(request, timeout=self.timeout)

    def sell(self, client_id: str, ticker: str, *, quantity, price, method: str = "FIFO", fees=None, dry_run: bool = False,
             request_id: str | None = None) -> cost_basis_pb2.SellLotsResponse:
        """Sells shares of a position by FIFO, LIFO, HIFO or AVERAGE (SPECIFIC_ID: use the stub)."""
        request = cost_basis_pb2.SellLotsRequest(client_id=client_id, ticker=ticker, quantity=amount(quantity), price=amount(price),
                                                 method=common_pb2.CostBasisMethod.Value(method), dry_run=dry_run,
                                                 fees=amount(fees) if fees is not None else "",
                                                 request_id=request_id or uuid.uuid4().hex)
        return self.cost_basis.SellLots(request, timeout=self.timeout)

    def positions(self, client_id: str, *, include_closed: bool = False):
        """Every position of a client, following the pages."""
        token = ""
        while True:
            page = self.holdings.ListPositions(holdings_pb2.ListPositionsRequest(
                client_id=client_id, include_closed=include_closed, page_size=500, page_token=token), timeout=self.timeout)
            yield from page.positions
            token = page.next_page_token
            if not token:
                return

    def publish_prices(self, prices: dict, request_id: str | None = None) -> holdings_pb2.PublishPricesResponse:
        """Revalues every open position of each ticker: {"AAPL": "151.10", ...}."""
        quotes = [common_pb2.PriceQuote(ticker=ticker, price=amount(price)) for ticker, price in prices.items()]
        return self.holdings.PublishPrices(holdings_pb2.PublishPricesRequest(prices=quotes, request_id=request_id or uuid.uuid4().hex),
                                           timeout=self.timeout)
