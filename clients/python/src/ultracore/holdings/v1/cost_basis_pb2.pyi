import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ultracore.holdings.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetCostBasisSummaryRequest(_message.Message):
    __slots__ = ("client_id", "ticker", "as_of")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    ticker: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCostBasisSummaryResponse(_message.Message):
    __slots__ = ("position_id", "lots", "total_quantity", "total_cost_basis", "average_cost", "market_value", "unrealized")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    LOTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_BASIS_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_COST_FIELD_NUMBER: _ClassVar[int]
    MARKET_VALUE_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    lots: _containers.RepeatedCompositeFieldContainer[_common_pb2.Lot]
    total_quantity: str
    total_cost_basis: str
    average_cost: str
    market_value: str
    unrealized: _common_pb2.GainSummary
    def __init__(self, position_id: _Optional[str] = ..., lots: _Optional[_Iterable[_Union[_common_pb2.Lot, _Mapping]]] = ..., total_quantity: _Optional[str] = ..., total_cost_basis: _Optional[str] = ..., average_cost: _Optional[str] = ..., market_value: _Optional[str] = ..., unrealized: _Optional[_Union[_common_pb2.GainSummary, _Mapping]] = ...) -> None: ...

class SellLotsRequest(_message.Message):
    __slots__ = ("client_id", "ticker", "quantity", "price", "method", "lot_selections", "trade_time", "fees", "dry_run", "request_id", "max_lots")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LOT_SELECTIONS_FIELD_NUMBER: _ClassVar[int]
    TRADE_TIME_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_LOTS_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    ticker: str
    quantity: str
    price: str
    method: _common_pb2.CostBasisMethod
    lot_selections: _containers.RepeatedCompositeFieldContainer[_common_pb2.LotSelection]
    trade_time: _timestamp_pb2.Timestamp
    fees: str
    dry_run: bool
    request_id: str
    max_lots: int
    def __init__(self, client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., method: _Optional[_Union[_common_pb2.CostBasisMethod, str]] = ..., lot_selections: _Optional[_Iterable[_Union[_common_pb2.LotSelection, _Mapping]]] = ..., trade_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fees: _Optional[str] = ..., dry_run: _Optional[bool] = ..., request_id: _Optional[str] = ..., max_lots: _Optional[int] = ...) -> None: ...

class SellLotsResponse(_message.Message):
    __slots__ = ("realized", "total_proceeds", "total_cost_basis", "gains", "dry_run", "position", "event_id")
    REALIZED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PROCEEDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_BASIS_FIELD_NUMBER: _ClassVar[int]
    GAINS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    realized: _containers.RepeatedCompositeFieldContainer[_common_pb2.RealizedLot]
    total_proceeds: str
    total_cost_basis: str
    gains: _common_pb2.GainSummary
    dry_run: bool
    position: _common_pb2.Position
    event_id: str
    def __init__(self, realized: _Optional[_Iterable[_Union[_common_pb2.RealizedLot, _Mapping]]] = ..., total_proceeds: _Optional[str] = ..., total_cost_basis: _Optional[str] = ..., gains: _Optional[_Union[_common_pb2.GainSummary, _Mapping]] = ..., dry_run: _Optional[bool] = ..., position: _Optional[_Union[_common_pb2.Position, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class GetTaxLossHarvestCandidatesRequest(_message.Message):
    __slots__ = ("client_id", "ticker", "min_loss", "short_term_tax_rate", "long_term_tax_rate", "as_of")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    MIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    SHORT_TERM_TAX_RATE_FIELD_NUMBER: _ClassVar[int]
    LONG_TERM_TAX_RATE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    ticker: str
    min_loss: str
    short_term_tax_rate: str
    long_term_tax_rate: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., min_loss: _Optional[str] = ..., short_term_tax_rate: _Optional[str] = ..., long_term_tax_rate: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HarvestCandidate(_message.Message):
    __slots__ = ("position_id", "ticker", "lot", "unrealized_loss", "term", "estimated_tax_benefit", "wash_sale_risk", "wash_sale_reason")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    LOT_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_LOSS_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_TAX_BENEFIT_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_RISK_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_REASON_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    ticker: str
    lot: _common_pb2.Lot
    unrealized_loss: str
    term: _common_pb2.HoldingTerm
    estimated_tax_benefit: str
    wash_sale_risk: bool
    wash_sale_reason: str
    def __init__(self, position_id: _Optional[str] = ..., ticker: _Optional[str] = ..., lot: _Optional[_Union[_common_pb2.Lot, _Mapping]] = ..., unrealized_loss: _Optional[str] = ..., term: _Optional[_Union[_common_pb2.HoldingTerm, str]] = ..., estimated_tax_benefit: _Optional[str] = ..., wash_sale_risk: _Optional[bool] = ..., wash_sale_reason: _Optional[str] = ...) -> None: ...

class GetTaxLossHarvestCandidatesResponse(_message.Message):
    __slots__ = ("candidates", "total_harvestable_loss", "total_estimated_benefit")
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_HARVESTABLE_LOSS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ESTIMATED_BENEFIT_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[HarvestCandidate]
    total_harvestable_loss: str
    total_estimated_benefit: str
    def __init__(self, candidates: _Optional[_Iterable[_Union[HarvestCandidate, _Mapping]]] = ..., total_harvestable_loss: _Optional[str] = ..., total_estimated_benefit: _Optional[str] = ...) -> None: ...

class GetUnrealizedGainLossRequest(_message.Message):
    __slots__ = ("client_id", "ticker", "as_of")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    ticker: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LotGainLoss(_message.Message):
    __slots__ = ("position_id", "ticker", "lot")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    LOT_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    ticker: str
    lot: _common_pb2.Lot
    def __init__(self, position_id: _Optional[str] = ..., ticker: _Optional[str] = ..., lot: _Optional[_Union[_common_pb2.Lot, _Mapping]] = ...) -> None: ...

class GetUnrealizedGainLossResponse(_message.Message):
    __slots__ = ("lots", "totals", "unpriced_position_ids")
    LOTS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    UNPRICED_POSITION_IDS_FIELD_NUMBER: _ClassVar[int]
    lots: _containers.RepeatedCompositeFieldContainer[LotGainLoss]
    totals: _common_pb2.GainSummary
    unpriced_position_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, lots: _Optional[_Iterable[_Union[LotGainLoss, _Mapping]]] = ..., totals: _Optional[_Union[_common_pb2.GainSummary, _Mapping]] = ..., unpriced_position_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRealizedGainsRequest(_message.Message):
    __slots__ = ("client_id", "start_time", "end_time", "ticker")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    ticker: str
    def __init__(self, client_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ticker: _Optional[str] = ...) -> None: ...

class RealizedSale(_message.Message):
    __slots__ = ("event_id", "position_id", "ticker", "sold_at", "method", "lots", "gains", "cash_in_lieu")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    SOLD_AT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LOTS_FIELD_NUMBER: _ClassVar[int]
    GAINS_FIELD_NUMBER: _ClassVar[int]
    CASH_IN_LIEU_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    position_id: str
    ticker: str
    sold_at: _timestamp_pb2.Timestamp
    method: _common_pb2.CostBasisMethod
    lots: _containers.RepeatedCompositeFieldContainer[_common_pb2.RealizedLot]
    gains: _common_pb2.GainSummary
    cash_in_lieu: bool
    def __init__(self, event_id: _Optional[str] = ..., position_id: _Optional[str] = ..., ticker: _Optional[str] = ..., sold_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., method: _Optional[_Union[_common_pb2.CostBasisMethod, str]] = ..., lots: _Optional[_Iterable[_Union[_common_pb2.RealizedLot, _Mapping]]] = ..., gains: _Optional[_Union[_common_pb2.GainSummary, _Mapping]] = ..., cash_in_lieu: _Optional[bool] = ...) -> None: ...

class GetRealizedGainsResponse(_message.Message):
    __slots__ = ("sales", "totals", "wash_sale_disallowed")
    SALES_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_DISALLOWED_FIELD_NUMBER: _ClassVar[int]
    sales: _containers.RepeatedCompositeFieldContainer[RealizedSale]
    totals: _common_pb2.GainSummary
    wash_sale_disallowed: str
    def __init__(self, sales: _Optional[_Iterable[_Union[RealizedSale, _Mapping]]] = ..., totals: _Optional[_Union[_common_pb2.GainSummary, _Mapping]] = ..., wash_sale_disallowed: _Optional[str] = ...) -> None: ...
