import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CostBasisMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COST_BASIS_METHOD_UNSPECIFIED: _ClassVar[CostBasisMethod]
    FIFO: _ClassVar[CostBasisMethod]
    LIFO: _ClassVar[CostBasisMethod]
    HIFO: _ClassVar[CostBasisMethod]
    AVERAGE: _ClassVar[CostBasisMethod]
    SPECIFIC_ID: _ClassVar[CostBasisMethod]

class HoldingTerm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLDING_TERM_UNSPECIFIED: _ClassVar[HoldingTerm]
    SHORT_TERM: _ClassVar[HoldingTerm]
    LONG_TERM: _ClassVar[HoldingTerm]

class PositionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POSITION_STATUS_UNSPECIFIED: _ClassVar[PositionStatus]
    POSITION_STATUS_OPEN: _ClassVar[PositionStatus]
    POSITION_STATUS_CLOSED: _ClassVar[PositionStatus]

class TradeSide(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRADE_SIDE_UNSPECIFIED: _ClassVar[TradeSide]
    BUY: _ClassVar[TradeSide]
    SELL: _ClassVar[TradeSide]

class AlertKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_KIND_UNSPECIFIED: _ClassVar[AlertKind]
    DRIFT: _ClassVar[AlertKind]
    CONCENTRATION: _ClassVar[AlertKind]
    ANOMALY: _ClassVar[AlertKind]
    RISK: _ClassVar[AlertKind]

class AlertSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_SEVERITY_UNSPECIFIED: _ClassVar[AlertSeverity]
    INFO: _ClassVar[AlertSeverity]
    WARNING: _ClassVar[AlertSeverity]
    CRITICAL: _ClassVar[AlertSeverity]
COST_BASIS_METHOD_UNSPECIFIED: CostBasisMethod
FIFO: CostBasisMethod
LIFO: CostBasisMethod
HIFO: CostBasisMethod
AVERAGE: CostBasisMethod
SPECIFIC_ID: CostBasisMethod
HOLDING_TERM_UNSPECIFIED: HoldingTerm
SHORT_TERM: HoldingTerm
LONG_TERM: HoldingTerm
POSITION_STATUS_UNSPECIFIED: PositionStatus
POSITION_STATUS_OPEN: PositionStatus
POSITION_STATUS_CLOSED: PositionStatus
TRADE_SIDE_UNSPECIFIED: TradeSide
BUY: TradeSide
SELL: TradeSide
ALERT_KIND_UNSPECIFIED: AlertKind
DRIFT: AlertKind
CONCENTRATION: AlertKind
ANOMALY: AlertKind
RISK: AlertKind
ALERT_SEVERITY_UNSPECIFIED: AlertSeverity
INFO: AlertSeverity
WARNING: AlertSeverity
CRITICAL: AlertSeverity

class Lot(_message.Message):
    __slots__ = ("lot_id", "acquired_at", "quantity", "original_quantity", "unit_cost", "cost_basis", "fees", "term", "market_value", "unrealized_gain", "source_event_id", "holding_period_start", "wash_sale_adjustment")
    LOT_ID_FIELD_NUMBER: _ClassVar[int]
    ACQUIRED_AT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_COST_FIELD_NUMBER: _ClassVar[int]
    COST_BASIS_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    MARKET_VALUE_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDING_PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    lot_id: str
    acquired_at: _timestamp_pb2.Timestamp
    quantity: str
    original_quantity: str
    unit_cost: str
    cost_basis: str
    fees: str
    term: HoldingTerm
    market_value: str
    unrealized_gain: str
    source_event_id: str
    holding_period_start: _timestamp_pb2.Timestamp
    wash_sale_adjustment: str
    def __init__(self, lot_id: _Optional[str] = ..., acquired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., quantity: _Optional[str] = ..., original_quantity: _Optional[str] = ..., unit_cost: _Optional[str] = ..., cost_basis: _Optional[str] = ..., fees: _Optional[str] = ..., term: _Optional[_Union[HoldingTerm, str]] = ..., market_value: _Optional[str] = ..., unrealized_gain: _Optional[str] = ..., source_event_id: _Optional[str] = ..., holding_period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., wash_sale_adjustment: _Optional[str] = ...) -> None: ...

class WashSaleMatch(_message.Message):
    __slots__ = ("sale_event_id", "sale_position_id", "sold_lot_id", "replacement_position_id", "replacement_lot_id", "quantity", "disallowed_loss", "sold_at", "sold_part_index")
    SALE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SALE_POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    SOLD_LOT_ID_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_LOT_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    DISALLOWED_LOSS_FIELD_NUMBER: _ClassVar[int]
    SOLD_AT_FIELD_NUMBER: _ClassVar[int]
    SOLD_PART_INDEX_FIELD_NUMBER: _ClassVar[int]
    sale_event_id: str
    sale_position_id: str
    sold_lot_id: str
    replacement_position_id: str
    replacement_lot_id: str
    quantity: str
    disallowed_loss: str
    sold_at: _timestamp_pb2.Timestamp
    sold_part_index: int
    def __init__(self, sale_event_id: _Optional[str] = ..., sale_position_id: _Optional[str] = ..., sold_lot_id: _Optional[str] = ..., replacement_position_id: _Optional[str] = ..., replacement_lot_id: _Optional[str] = ..., quantity: _Optional[str] = ..., disallowed_loss: _Optional[str] = ..., sold_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sold_part_index: _Optional[int] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("position_id", "client_id", "ticker", "status", "quantity", "cost_basis", "average_cost", "last_price", "last_priced_at", "market_value", "unrealized_gain", "realized_gain", "lots", "opened_at", "closed_at", "version", "updated_at", "lot_count")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    COST_BASIS_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_COST_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICED_AT_FIELD_NUMBER: _ClassVar[int]
    MARKET_VALUE_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    REALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    LOTS_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    LOT_COUNT_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    client_id: str
    ticker: str
    status: PositionStatus
    quantity: str
    cost_basis: str
    average_cost: str
    last_price: str
    last_priced_at: _timestamp_pb2.Timestamp
    market_value: str
    unrealized_gain: str
    realized_gain: str
    lots: _containers.RepeatedCompositeFieldContainer[Lot]
    opened_at: _timestamp_pb2.Timestamp
    closed_at: _timestamp_pb2.Timestamp
    version: int
    updated_at: _timestamp_pb2.Timestamp
    lot_count: int
    def __init__(self, position_id: _Optional[str] = ..., client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., status: _Optional[_Union[PositionStatus, str]] = ..., quantity: _Optional[str] = ..., cost_basis: _Optional[str] = ..., average_cost: _Optional[str] = ..., last_price: _Optional[str] = ..., last_priced_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., market_value: _Optional[str] = ..., unrealized_gain: _Optional[str] = ..., realized_gain: _Optional[str] = ..., lots: _Optional[_Iterable[_Union[Lot, _Mapping]]] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lot_count: _Optional[int] = ...) -> None: ...

class LotSelection(_message.Message):
    __slots__ = ("lot_id", "quantity")
    LOT_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    lot_id: str
    quantity: str
    def __init__(self, lot_id: _Optional[str] = ..., quantity: _Optional[str] = ...) -> None: ...

class RealizedLot(_message.Message):
    __slots__ = ("lot_id", "acquired_at", "sold_at", "quantity", "unit_cost", "cost_basis", "proceeds", "realized_gain", "term", "wash_sale_disallowed", "holding_period_start")
    LOT_ID_FIELD_NUMBER: _ClassVar[int]
    ACQUIRED_AT_FIELD_NUMBER: _ClassVar[int]
    SOLD_AT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_COST_FIELD_NUMBER: _ClassVar[int]
    COST_BASIS_FIELD_NUMBER: _ClassVar[int]
    PROCEEDS_FIELD_NUMBER: _ClassVar[int]
    REALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_DISALLOWED_FIELD_NUMBER: _ClassVar[int]
    HOLDING_PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    lot_id: str
    acquired_at: _timestamp_pb2.Timestamp
    sold_at: _timestamp_pb2.Timestamp
    quantity: str
    unit_cost: str
    cost_basis: str
    proceeds: str
    realized_gain: str
    term: HoldingTerm
    wash_sale_disallowed: str
    holding_period_start: _timestamp_pb2.Timestamp
    def __init__(self, lot_id: _Optional[str] = ..., acquired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sold_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., quantity: _Optional[str] = ..., unit_cost: _Optional[str] = ..., cost_basis: _Optional[str] = ..., proceeds: _Optional[str] = ..., realized_gain: _Optional[str] = ..., term: _Optional[_Union[HoldingTerm, str]] = ..., wash_sale_disallowed: _Optional[str] = ..., holding_period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PriceQuote(_message.Message):
    __slots__ = ("ticker", "price", "priced_at")
    TICKER_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICED_AT_FIELD_NUMBER: _ClassVar[int]
    ticker: str
    price: str
    priced_at: _timestamp_pb2.Timestamp
    def __init__(self, ticker: _Optional[str] = ..., price: _Optional[str] = ..., priced_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GainSummary(_message.Message):
    __slots__ = ("total", "short_term", "long_term")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SHORT_TERM_FIELD_NUMBER: _ClassVar[int]
    LONG_TERM_FIELD_NUMBER: _ClassVar[int]
    total: str
    short_term: str
    long_term: str
    def __init__(self, total: _Optional[str] = ..., short_term: _Optional[str] = ..., long_term: _Optional[str] = ...) -> None: ...
