import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ultracore.holdings.v1 import common_pb2 as _common_pb2
from ultracore.holdings.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OpenPositionRequest(_message.Message):
    __slots__ = ("client_id", "ticker", "quantity", "price", "trade_time", "fees", "request_id", "max_lots")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    TRADE_TIME_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_LOTS_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    ticker: str
    quantity: str
    price: str
    trade_time: _timestamp_pb2.Timestamp
    fees: str
    request_id: str
    max_lots: int
    def __init__(self, client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., trade_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fees: _Optional[str] = ..., request_id: _Optional[str] = ..., max_lots: _Optional[int] = ...) -> None: ...

class OpenPositionResponse(_message.Message):
    __slots__ = ("position", "lot", "created", "event_id")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    LOT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    position: _common_pb2.Position
    lot: _common_pb2.Lot
    created: bool
    event_id: str
    def __init__(self, position: _Optional[_Union[_common_pb2.Position, _Mapping]] = ..., lot: _Optional[_Union[_common_pb2.Lot, _Mapping]] = ..., created: _Optional[bool] = ..., event_id: _Optional[str] = ...) -> None: ...

class ClosePositionRequest(_message.Message):
    __slots__ = ("position_id", "price", "method", "trade_time", "fees", "request_id", "max_lots")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TRADE_TIME_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_LOTS_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    price: str
    method: _common_pb2.CostBasisMethod
    trade_time: _timestamp_pb2.Timestamp
    fees: str
    request_id: str
    max_lots: int
    def __init__(self, position_id: _Optional[str] = ..., price: _Optional[str] = ..., method: _Optional[_Union[_common_pb2.CostBasisMethod, str]] = ..., trade_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fees: _Optional[str] = ..., request_id: _Optional[str] = ..., max_lots: _Optional[int] = ...) -> None: ...

class ClosePositionResponse(_message.Message):
    __slots__ = ("position", "realized", "gains", "event_id")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    REALIZED_FIELD_NUMBER: _ClassVar[int]
    GAINS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    position: _common_pb2.Position
    realized: _containers.RepeatedCompositeFieldContainer[_common_pb2.RealizedLot]
    gains: _common_pb2.GainSummary
    event_id: str
    def __init__(self, position: _Optional[_Union[_common_pb2.Position, _Mapping]] = ..., realized: _Optional[_Iterable[_Union[_common_pb2.RealizedLot, _Mapping]]] = ..., gains: _Optional[_Union[_common_pb2.GainSummary, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class GetPositionRequest(_message.Message):
    __slots__ = ("position_id", "max_lots", "lots_offset")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_LOTS_FIELD_NUMBER: _ClassVar[int]
    LOTS_OFFSET_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    max_lots: int
    lots_offset: int
    def __init__(self, position_id: _Optional[str] = ..., max_lots: _Optional[int] = ..., lots_offset: _Optional[int] = ...) -> None: ...

class GetPositionResponse(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: _common_pb2.Position
    def __init__(self, position: _Optional[_Union[_common_pb2.Position, _Mapping]] = ...) -> None: ...

class UpdatePositionValueRequest(_message.Message):
    __slots__ = ("position_id", "price", "priced_at", "request_id", "max_lots")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_LOTS_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    price: str
    priced_at: _timestamp_pb2.Timestamp
    request_id: str
    max_lots: int
    def __init__(self, position_id: _Optional[str] = ..., price: _Optional[str] = ..., priced_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., max_lots: _Optional[int] = ...) -> None: ...

class UpdatePositionValueResponse(_message.Message):
    __slots__ = ("position", "event_id")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    position: _common_pb2.Position
    event_id: str
    def __init__(self, position: _Optional[_Union[_common_pb2.Position, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class PublishPricesRequest(_message.Message):
    __slots__ = ("prices", "request_id")
    PRICES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    prices: _containers.RepeatedCompositeFieldContainer[_common_pb2.PriceQuote]
    request_id: str
    def __init__(self, prices: _Optional[_Iterable[_Union[_common_pb2.PriceQuote, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class PublishPricesResponse(_message.Message):
    __slots__ = ("positions_revalued", "unheld_tickers")
    POSITIONS_REVALUED_FIELD_NUMBER: _ClassVar[int]
    UNHELD_TICKERS_FIELD_NUMBER: _ClassVar[int]
    positions_revalued: int
    unheld_tickers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, positions_revalued: _Optional[int] = ..., unheld_tickers: _Optional[_Iterable[str]] = ...) -> None: ...

class ReconstructPositionRequest(_message.Message):
    __slots__ = ("position_id", "as_of_version", "as_of_time", "max_lots", "max_events")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_VERSION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_LOTS_FIELD_NUMBER: _ClassVar[int]
    MAX_EVENTS_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    as_of_version: int
    as_of_time: _timestamp_pb2.Timestamp
    max_lots: int
    max_events: int
    def __init__(self, position_id: _Optional[str] = ..., as_of_version: _Optional[int] = ..., as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_lots: _Optional[int] = ..., max_events: _Optional[int] = ...) -> None: ...

class ReconstructPositionResponse(_message.Message):
    __slots__ = ("position", "events", "event_count")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    position: _common_pb2.Position
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.Event]
    event_count: int
    def __init__(self, position: _Optional[_Union[_common_pb2.Position, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_events_pb2.Event, _Mapping]]] = ..., event_count: _Optional[int] = ...) -> None: ...

class ListPositionsRequest(_message.Message):
    __slots__ = ("client_id", "include_closed", "page_size", "page_token", "max_lots")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CLOSED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_LOTS_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    include_closed: bool
    page_size: int
    page_token: str
    max_lots: int
    def __init__(self, client_id: _Optional[str] = ..., include_closed: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., max_lots: _Optional[int] = ...) -> None: ...

class ListPositionsResponse(_message.Message):
    __slots__ = ("positions", "next_page_token")
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[_common_pb2.Position]
    next_page_token: str
    def __init__(self, positions: _Optional[_Iterable[_Union[_common_pb2.Position, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPortfolioValueRequest(_message.Message):
    __slots__ = ("client_id", "max_positions", "positions_offset")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_OFFSET_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    max_positions: int
    positions_offset: int
    def __init__(self, client_id: _Optional[str] = ..., max_positions: _Optional[int] = ..., positions_offset: _Optional[int] = ...) -> None: ...

class PositionWeight(_message.Message):
    __slots__ = ("position_id", "ticker", "market_value", "weight", "cost_basis", "unrealized_gain")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    MARKET_VALUE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    COST_BASIS_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    ticker: str
    market_value: str
    weight: str
    cost_basis: str
    unrealized_gain: str
    def __init__(self, position_id: _Optional[str] = ..., ticker: _Optional[str] = ..., market_value: _Optional[str] = ..., weight: _Optional[str] = ..., cost_basis: _Optional[str] = ..., unrealized_gain: _Optional[str] = ...) -> None: ...

class GetPortfolioValueResponse(_message.Message):
    __slots__ = ("client_id", "market_value", "cost_basis", "unrealized_gain", "positions", "unpriced_position_ids", "position_count")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    MARKET_VALUE_FIELD_NUMBER: _ClassVar[int]
    COST_BASIS_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    UNPRICED_POSITION_IDS_FIELD_NUMBER: _ClassVar[int]
    POSITION_COUNT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    market_value: str
    cost_basis: str
    unrealized_gain: str
    positions: _containers.RepeatedCompositeFieldContainer[PositionWeight]
    unpriced_position_ids: _containers.RepeatedScalarFieldContainer[str]
    position_count: int
    def __init__(self, client_id: _Optional[str] = ..., market_value: _Optional[str] = ..., cost_basis: _Optional[str] = ..., unrealized_gain: _Optional[str] = ..., positions: _Optional[_Iterable[_Union[PositionWeight, _Mapping]]] = ..., unpriced_position_ids: _Optional[_Iterable[str]] = ..., position_count: _Optional[int] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("kind", "severity", "ticker", "position_id", "message", "observed", "threshold")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    kind: _common_pb2.AlertKind
    severity: _common_pb2.AlertSeverity
    ticker: str
    position_id: str
    message: str
    observed: str
    threshold: str
    def __init__(self, kind: _Optional[_Union[_common_pb2.AlertKind, str]] = ..., severity: _Optional[_Union[_common_pb2.AlertSeverity, str]] = ..., ticker: _Optional[str] = ..., position_id: _Optional[str] = ..., message: _Optional[str] = ..., observed: _Optional[str] = ..., threshold: _Optional[str] = ...) -> None: ...

class MonitorPortfolioRequest(_message.Message):
    __slots__ = ("client_id", "target_weights", "drift_threshold", "concentration_limit")
    class TargetWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    DRIFT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CONCENTRATION_LIMIT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    target_weights: _containers.ScalarMap[str, str]
    drift_threshold: str
    concentration_limit: str
    def __init__(self, client_id: _Optional[str] = ..., target_weights: _Optional[_Mapping[str, str]] = ..., drift_threshold: _Optional[str] = ..., concentration_limit: _Optional[str] = ...) -> None: ...

class MonitorPortfolioResponse(_message.Message):
    __slots__ = ("alerts", "assessed_at")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    ASSESSED_AT_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    assessed_at: _timestamp_pb2.Timestamp
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., assessed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApplyCorporateActionRequest(_message.Message):
    __slots__ = ("ticker", "type", "split_to", "split_from", "cash_in_lieu_price", "dividend_per_share", "reinvest", "reinvestment_price", "effective_at", "request_id")
    TICKER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SPLIT_TO_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FROM_FIELD_NUMBER: _ClassVar[int]
    CASH_IN_LIEU_PRICE_FIELD_NUMBER: _ClassVar[int]
    DIVIDEND_PER_SHARE_FIELD_NUMBER: _ClassVar[int]
    REINVEST_FIELD_NUMBER: _ClassVar[int]
    REINVESTMENT_PRICE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ticker: str
    type: _events_pb2.CorporateActionType
    split_to: str
    split_from: str
    cash_in_lieu_price: str
    dividend_per_share: str
    reinvest: bool
    reinvestment_price: str
    effective_at: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, ticker: _Optional[str] = ..., type: _Optional[_Union[_events_pb2.CorporateActionType, str]] = ..., split_to: _Optional[str] = ..., split_from: _Optional[str] = ..., cash_in_lieu_price: _Optional[str] = ..., dividend_per_share: _Optional[str] = ..., reinvest: _Optional[bool] = ..., reinvestment_price: _Optional[str] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ApplyCorporateActionResponse(_message.Message):
    __slots__ = ("action_id", "results")
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    action_id: str
    results: _containers.RepeatedCompositeFieldContainer[_events_pb2.CorporateActionApplied]
    def __init__(self, action_id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[_events_pb2.CorporateActionApplied, _Mapping]]] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("client_id", "position_id", "page_size", "page_token", "event_types")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    position_id: str
    page_size: int
    page_token: str
    event_types: _containers.RepeatedScalarFieldContainer[_events_pb2.EventType]
    def __init__(self, client_id: _Optional[str] = ..., position_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., event_types: _Optional[_Iterable[_Union[_events_pb2.EventType, str]]] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.Event]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[_events_pb2.Event, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("client_id", "replay_from_start", "event_types")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FROM_START_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    replay_from_start: bool
    event_types: _containers.RepeatedScalarFieldContainer[_events_pb2.EventType]
    def __init__(self, client_id: _Optional[str] = ..., replay_from_start: _Optional[bool] = ..., event_types: _Optional[_Iterable[_Union[_events_pb2.EventType, str]]] = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.Event
    def __init__(self, event: _Optional[_Union[_events_pb2.Event, _Mapping]] = ...) -> None: ...
