import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ultracore.holdings.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    POSITION_OPENED: _ClassVar[EventType]
    LOT_ADDED: _ClassVar[EventType]
    LOTS_SOLD: _ClassVar[EventType]
    POSITION_CLOSED: _ClassVar[EventType]
    POSITION_VALUED: _ClassVar[EventType]
    CORPORATE_ACTION_APPLIED: _ClassVar[EventType]
    REBALANCING_TRIGGERED: _ClassVar[EventType]
    TRADE_EXECUTED: _ClassVar[EventType]
    REBALANCING_COMPLETED: _ClassVar[EventType]
    REBALANCING_SCHEDULED: _ClassVar[EventType]
    POLICY_TRAINED: _ClassVar[EventType]
    REBALANCING_ABORTED: _ClassVar[EventType]
    AGENT_ALERT: _ClassVar[EventType]
    ALERT_ACKNOWLEDGED: _ClassVar[EventType]

class CorporateActionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CORPORATE_ACTION_TYPE_UNSPECIFIED: _ClassVar[CorporateActionType]
    SPLIT: _ClassVar[CorporateActionType]
    CASH_DIVIDEND: _ClassVar[CorporateActionType]

class RebalancingStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REBALANCING_STRATEGY_UNSPECIFIED: _ClassVar[RebalancingStrategy]
    THRESHOLD: _ClassVar[RebalancingStrategy]
    CALENDAR: _ClassVar[RebalancingStrategy]
    TACTICAL: _ClassVar[RebalancingStrategy]

class Cadence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CADENCE_UNSPECIFIED: _ClassVar[Cadence]
    DAILY: _ClassVar[Cadence]
    WEEKLY: _ClassVar[Cadence]
    MONTHLY: _ClassVar[Cadence]
    QUARTERLY: _ClassVar[Cadence]

class AlertState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_STATE_UNSPECIFIED: _ClassVar[AlertState]
    RAISED: _ClassVar[AlertState]
    CLEARED: _ClassVar[AlertState]
EVENT_TYPE_UNSPECIFIED: EventType
POSITION_OPENED: EventType
LOT_ADDED: EventType
LOTS_SOLD: EventType
POSITION_CLOSED: EventType
POSITION_VALUED: EventType
CORPORATE_ACTION_APPLIED: EventType
REBALANCING_TRIGGERED: EventType
TRADE_EXECUTED: EventType
REBALANCING_COMPLETED: EventType
REBALANCING_SCHEDULED: EventType
POLICY_TRAINED: EventType
REBALANCING_ABORTED: EventType
AGENT_ALERT: EventType
ALERT_ACKNOWLEDGED: EventType
CORPORATE_ACTION_TYPE_UNSPECIFIED: CorporateActionType
SPLIT: CorporateActionType
CASH_DIVIDEND: CorporateActionType
REBALANCING_STRATEGY_UNSPECIFIED: RebalancingStrategy
THRESHOLD: RebalancingStrategy
CALENDAR: RebalancingStrategy
TACTICAL: RebalancingStrategy
CADENCE_UNSPECIFIED: Cadence
DAILY: Cadence
WEEKLY: Cadence
MONTHLY: Cadence
QUARTERLY: Cadence
ALERT_STATE_UNSPECIFIED: AlertState
RAISED: AlertState
CLEARED: AlertState

class Event(_message.Message):
    __slots__ = ("event_id", "event_type", "aggregate_id", "aggregate_version", "occurred_at", "correlation_id", "causation_id", "source", "schema_version", "quality_score", "failed_quality_rules", "client_id", "request_id", "attributes", "actor", "position_opened", "lot_added", "lots_sold", "position_closed", "position_valued", "corporate_action_applied", "rebalancing_triggered", "trade_executed", "rebalancing_completed", "rebalancing_scheduled", "policy_trained", "rebalancing_aborted", "agent_alert", "alert_acknowledged")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    FAILED_QUALITY_RULES_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    POSITION_OPENED_FIELD_NUMBER: _ClassVar[int]
    LOT_ADDED_FIELD_NUMBER: _ClassVar[int]
    LOTS_SOLD_FIELD_NUMBER: _ClassVar[int]
    POSITION_CLOSED_FIELD_NUMBER: _ClassVar[int]
    POSITION_VALUED_FIELD_NUMBER: _ClassVar[int]
    CORPORATE_ACTION_APPLIED_FIELD_NUMBER: _ClassVar[int]
    REBALANCING_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    TRADE_EXECUTED_FIELD_NUMBER: _ClassVar[int]
    REBALANCING_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    REBALANCING_SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    POLICY_TRAINED_FIELD_NUMBER: _ClassVar[int]
    REBALANCING_ABORTED_FIELD_NUMBER: _ClassVar[int]
    AGENT_ALERT_FIELD_NUMBER: _ClassVar[int]
    ALERT_ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_type: EventType
    aggregate_id: str
    aggregate_version: int
    occurred_at: _timestamp_pb2.Timestamp
    correlation_id: str
    causation_id: str
    source: str
    schema_version: int
    quality_score: int
    failed_quality_rules: _containers.RepeatedScalarFieldContainer[str]
    client_id: str
    request_id: str
    attributes: _containers.ScalarMap[str, str]
    actor: str
    position_opened: PositionOpened
    lot_added: LotAdded
    lots_sold: LotsSold
    position_closed: PositionClosed
    position_valued: PositionValued
    corporate_action_applied: CorporateActionApplied
    rebalancing_triggered: RebalancingTriggered
    trade_executed: TradeExecuted
    rebalancing_completed: RebalancingCompleted
    rebalancing_scheduled: RebalancingScheduled
    policy_trained: PolicyTrained
    rebalancing_aborted: RebalancingAborted
    agent_alert: AgentAlert
    alert_acknowledged: AlertAcknowledged
    def __init__(self, event_id: _Optional[str] = ..., event_type: _Optional[_Union[EventType, str]] = ..., aggregate_id: _Optional[str] = ..., aggregate_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ..., causation_id: _Optional[str] = ..., source: _Optional[str] = ..., schema_version: _Optional[int] = ..., quality_score: _Optional[int] = ..., failed_quality_rules: _Optional[_Iterable[str]] = ..., client_id: _Optional[str] = ..., request_id: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., actor: _Optional[str] = ..., position_opened: _Optional[_Union[PositionOpened, _Mapping]] = ..., lot_added: _Optional[_Union[LotAdded, _Mapping]] = ..., lots_sold: _Optional[_Union[LotsSold, _Mapping]] = ..., position_closed: _Optional[_Union[PositionClosed, _Mapping]] = ..., position_valued: _Optional[_Union[PositionValued, _Mapping]] = ..., corporate_action_applied: _Optional[_Union[CorporateActionApplied, _Mapping]] = ..., rebalancing_triggered: _Optional[_Union[RebalancingTriggered, _Mapping]] = ..., trade_executed: _Optional[_Union[TradeExecuted, _Mapping]] = ..., rebalancing_completed: _Optional[_Union[RebalancingCompleted, _Mapping]] = ..., rebalancing_scheduled: _Optional[_Union[RebalancingScheduled, _Mapping]] = ..., policy_trained: _Optional[_Union[PolicyTrained, _Mapping]] = ..., rebalancing_aborted: _Optional[_Union[RebalancingAborted, _Mapping]] = ..., agent_alert: _Optional[_Union[AgentAlert, _Mapping]] = ..., alert_acknowledged: _Optional[_Union[AlertAcknowledged, _Mapping]] = ...) -> None: ...

class PositionOpened(_message.Message):
    __slots__ = ("position_id", "client_id", "ticker", "lot", "wash_sale_lots", "wash_sale_matches")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    LOT_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_LOTS_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_MATCHES_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    client_id: str
    ticker: str
    lot: _common_pb2.Lot
    wash_sale_lots: _containers.RepeatedCompositeFieldContainer[_common_pb2.Lot]
    wash_sale_matches: _containers.RepeatedCompositeFieldContainer[_common_pb2.WashSaleMatch]
    def __init__(self, position_id: _Optional[str] = ..., client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., lot: _Optional[_Union[_common_pb2.Lot, _Mapping]] = ..., wash_sale_lots: _Optional[_Iterable[_Union[_common_pb2.Lot, _Mapping]]] = ..., wash_sale_matches: _Optional[_Iterable[_Union[_common_pb2.WashSaleMatch, _Mapping]]] = ...) -> None: ...

class LotAdded(_message.Message):
    __slots__ = ("position_id", "client_id", "ticker", "lot", "wash_sale_lots", "wash_sale_matches")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    LOT_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_LOTS_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_MATCHES_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    client_id: str
    ticker: str
    lot: _common_pb2.Lot
    wash_sale_lots: _containers.RepeatedCompositeFieldContainer[_common_pb2.Lot]
    wash_sale_matches: _containers.RepeatedCompositeFieldContainer[_common_pb2.WashSaleMatch]
    def __init__(self, position_id: _Optional[str] = ..., client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., lot: _Optional[_Union[_common_pb2.Lot, _Mapping]] = ..., wash_sale_lots: _Optional[_Iterable[_Union[_common_pb2.Lot, _Mapping]]] = ..., wash_sale_matches: _Optional[_Iterable[_Union[_common_pb2.WashSaleMatch, _Mapping]]] = ...) -> None: ...

class LotsSold(_message.Message):
    __slots__ = ("position_id", "client_id", "ticker", "method", "price", "quantity", "fees", "sold_at", "realized", "total_realized_gain", "wash_sale_lots", "wash_sale_matches")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    SOLD_AT_FIELD_NUMBER: _ClassVar[int]
    REALIZED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_REALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_LOTS_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_MATCHES_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    client_id: str
    ticker: str
    method: _common_pb2.CostBasisMethod
    price: str
    quantity: str
    fees: str
    sold_at: _timestamp_pb2.Timestamp
    realized: _containers.RepeatedCompositeFieldContainer[_common_pb2.RealizedLot]
    total_realized_gain: str
    wash_sale_lots: _containers.RepeatedCompositeFieldContainer[_common_pb2.Lot]
    wash_sale_matches: _containers.RepeatedCompositeFieldContainer[_common_pb2.WashSaleMatch]
    def __init__(self, position_id: _Optional[str] = ..., client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., method: _Optional[_Union[_common_pb2.CostBasisMethod, str]] = ..., price: _Optional[str] = ..., quantity: _Optional[str] = ..., fees: _Optional[str] = ..., sold_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., realized: _Optional[_Iterable[_Union[_common_pb2.RealizedLot, _Mapping]]] = ..., total_realized_gain: _Optional[str] = ..., wash_sale_lots: _Optional[_Iterable[_Union[_common_pb2.Lot, _Mapping]]] = ..., wash_sale_matches: _Optional[_Iterable[_Union[_common_pb2.WashSaleMatch, _Mapping]]] = ...) -> None: ...

class PositionClosed(_message.Message):
    __slots__ = ("position_id", "client_id", "ticker", "method", "price", "closed_at", "realized", "total_realized_gain", "fees", "wash_sale_lots", "wash_sale_matches")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    REALIZED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_REALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_LOTS_FIELD_NUMBER: _ClassVar[int]
    WASH_SALE_MATCHES_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    client_id: str
    ticker: str
    method: _common_pb2.CostBasisMethod
    price: str
    closed_at: _timestamp_pb2.Timestamp
    realized: _containers.RepeatedCompositeFieldContainer[_common_pb2.RealizedLot]
    total_realized_gain: str
    fees: str
    wash_sale_lots: _containers.RepeatedCompositeFieldContainer[_common_pb2.Lot]
    wash_sale_matches: _containers.RepeatedCompositeFieldContainer[_common_pb2.WashSaleMatch]
    def __init__(self, position_id: _Optional[str] = ..., client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., method: _Optional[_Union[_common_pb2.CostBasisMethod, str]] = ..., price: _Optional[str] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., realized: _Optional[_Iterable[_Union[_common_pb2.RealizedLot, _Mapping]]] = ..., total_realized_gain: _Optional[str] = ..., fees: _Optional[str] = ..., wash_sale_lots: _Optional[_Iterable[_Union[_common_pb2.Lot, _Mapping]]] = ..., wash_sale_matches: _Optional[_Iterable[_Union[_common_pb2.WashSaleMatch, _Mapping]]] = ...) -> None: ...

class PositionValued(_message.Message):
    __slots__ = ("position_id", "client_id", "ticker", "price", "priced_at", "previous_price", "market_value", "unrealized_gain", "quantity")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICED_AT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_PRICE_FIELD_NUMBER: _ClassVar[int]
    MARKET_VALUE_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    client_id: str
    ticker: str
    price: str
    priced_at: _timestamp_pb2.Timestamp
    previous_price: str
    market_value: str
    unrealized_gain: str
    quantity: str
    def __init__(self, position_id: _Optional[str] = ..., client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., price: _Optional[str] = ..., priced_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_price: _Optional[str] = ..., market_value: _Optional[str] = ..., unrealized_gain: _Optional[str] = ..., quantity: _Optional[str] = ...) -> None: ...

class CorporateActionApplied(_message.Message):
    __slots__ = ("action_id", "position_id", "client_id", "ticker", "type", "split_to", "split_from", "dividend_per_share", "dividend_amount", "cash_in_lieu", "cash_in_lieu_gain", "quantity_before", "quantity_after", "reinvested_lot", "lots_after", "effective_at", "cash_in_lieu_realized")
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SPLIT_TO_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FROM_FIELD_NUMBER: _ClassVar[int]
    DIVIDEND_PER_SHARE_FIELD_NUMBER: _ClassVar[int]
    DIVIDEND_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CASH_IN_LIEU_FIELD_NUMBER: _ClassVar[int]
    CASH_IN_LIEU_GAIN_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_BEFORE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_AFTER_FIELD_NUMBER: _ClassVar[int]
    REINVESTED_LOT_FIELD_NUMBER: _ClassVar[int]
    LOTS_AFTER_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    CASH_IN_LIEU_REALIZED_FIELD_NUMBER: _ClassVar[int]
    action_id: str
    position_id: str
    client_id: str
    ticker: str
    type: CorporateActionType
    split_to: str
    split_from: str
    dividend_per_share: str
    dividend_amount: str
    cash_in_lieu: str
    cash_in_lieu_gain: str
    quantity_before: str
    quantity_after: str
    reinvested_lot: _common_pb2.Lot
    lots_after: _containers.RepeatedCompositeFieldContainer[_common_pb2.Lot]
    effective_at: _timestamp_pb2.Timestamp
    cash_in_lieu_realized: _containers.RepeatedCompositeFieldContainer[_common_pb2.RealizedLot]
    def __init__(self, action_id: _Optional[str] = ..., position_id: _Optional[str] = ..., client_id: _Optional[str] = ..., ticker: _Optional[str] = ..., type: _Optional[_Union[CorporateActionType, str]] = ..., split_to: _Optional[str] = ..., split_from: _Optional[str] = ..., dividend_per_share: _Optional[str] = ..., dividend_amount: _Optional[str] = ..., cash_in_lieu: _Optional[str] = ..., cash_in_lieu_gain: _Optional[str] = ..., quantity_before: _Optional[str] = ..., quantity_after: _Optional[str] = ..., reinvested_lot: _Optional[_Union[_common_pb2.Lot, _Mapping]] = ..., lots_after: _Optional[_Iterable[_Union[_common_pb2.Lot, _Mapping]]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cash_in_lieu_realized: _Optional[_Iterable[_Union[_common_pb2.RealizedLot, _Mapping]]] = ...) -> None: ...

class AssetDrift(_message.Message):
    __slots__ = ("ticker", "target_weight", "current_weight", "drift", "relative_drift", "outside_band", "market_value")
    TICKER_FIELD_NUMBER: _ClassVar[int]
    TARGET_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_DRIFT_FIELD_NUMBER: _ClassVar[int]
    OUTSIDE_BAND_FIELD_NUMBER: _ClassVar[int]
    MARKET_VALUE_FIELD_NUMBER: _ClassVar[int]
    ticker: str
    target_weight: str
    current_weight: str
    drift: str
    relative_drift: str
    outside_band: bool
    market_value: str
    def __init__(self, ticker: _Optional[str] = ..., target_weight: _Optional[str] = ..., current_weight: _Optional[str] = ..., drift: _Optional[str] = ..., relative_drift: _Optional[str] = ..., outside_band: _Optional[bool] = ..., market_value: _Optional[str] = ...) -> None: ...

class RebalancingTriggered(_message.Message):
    __slots__ = ("rebalancing_id", "client_id", "strategy", "reasons", "drifts", "plan_id")
    REBALANCING_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    DRIFTS_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    rebalancing_id: str
    client_id: str
    strategy: RebalancingStrategy
    reasons: _containers.RepeatedScalarFieldContainer[str]
    drifts: _containers.RepeatedCompositeFieldContainer[AssetDrift]
    plan_id: str
    def __init__(self, rebalancing_id: _Optional[str] = ..., client_id: _Optional[str] = ..., strategy: _Optional[_Union[RebalancingStrategy, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., drifts: _Optional[_Iterable[_Union[AssetDrift, _Mapping]]] = ..., plan_id: _Optional[str] = ...) -> None: ...

class TradeExecuted(_message.Message):
    __slots__ = ("rebalancing_id", "plan_id", "client_id", "position_id", "ticker", "side", "quantity", "price", "cost", "realized", "lot")
    REBALANCING_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    REALIZED_FIELD_NUMBER: _ClassVar[int]
    LOT_FIELD_NUMBER: _ClassVar[int]
    rebalancing_id: str
    plan_id: str
    client_id: str
    position_id: str
    ticker: str
    side: _common_pb2.TradeSide
    quantity: str
    price: str
    cost: str
    realized: _containers.RepeatedCompositeFieldContainer[_common_pb2.RealizedLot]
    lot: _common_pb2.Lot
    def __init__(self, rebalancing_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., client_id: _Optional[str] = ..., position_id: _Optional[str] = ..., ticker: _Optional[str] = ..., side: _Optional[_Union[_common_pb2.TradeSide, str]] = ..., quantity: _Optional[str] = ..., price: _Optional[str] = ..., cost: _Optional[str] = ..., realized: _Optional[_Iterable[_Union[_common_pb2.RealizedLot, _Mapping]]] = ..., lot: _Optional[_Union[_common_pb2.Lot, _Mapping]] = ...) -> None: ...

class RebalancingCompleted(_message.Message):
    __slots__ = ("rebalancing_id", "plan_id", "client_id", "trade_count", "total_cost", "total_realized_gain")
    REBALANCING_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TRADE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    TOTAL_REALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    rebalancing_id: str
    plan_id: str
    client_id: str
    trade_count: int
    total_cost: str
    total_realized_gain: str
    def __init__(self, rebalancing_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., client_id: _Optional[str] = ..., trade_count: _Optional[int] = ..., total_cost: _Optional[str] = ..., total_realized_gain: _Optional[str] = ...) -> None: ...

class RebalancingAborted(_message.Message):
    __slots__ = ("rebalancing_id", "plan_id", "client_id", "reason")
    REBALANCING_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    rebalancing_id: str
    plan_id: str
    client_id: str
    reason: str
    def __init__(self, rebalancing_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., client_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DriftBand(_message.Message):
    __slots__ = ("absolute", "relative")
    ABSOLUTE_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_FIELD_NUMBER: _ClassVar[int]
    absolute: str
    relative: str
    def __init__(self, absolute: _Optional[str] = ..., relative: _Optional[str] = ...) -> None: ...

class RebalancingSchedule(_message.Message):
    __slots__ = ("schedule_id", "client_id", "cadence", "strategy", "target_weights", "band", "enabled", "next_run_at", "last_run_at", "auto_execute")
    class TargetWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CADENCE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    TARGET_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    NEXT_RUN_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_AT_FIELD_NUMBER: _ClassVar[int]
    AUTO_EXECUTE_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    client_id: str
    cadence: Cadence
    strategy: RebalancingStrategy
    target_weights: _containers.ScalarMap[str, str]
    band: DriftBand
    enabled: bool
    next_run_at: _timestamp_pb2.Timestamp
    last_run_at: _timestamp_pb2.Timestamp
    auto_execute: bool
    def __init__(self, schedule_id: _Optional[str] = ..., client_id: _Optional[str] = ..., cadence: _Optional[_Union[Cadence, str]] = ..., strategy: _Optional[_Union[RebalancingStrategy, str]] = ..., target_weights: _Optional[_Mapping[str, str]] = ..., band: _Optional[_Union[DriftBand, _Mapping]] = ..., enabled: _Optional[bool] = ..., next_run_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_run_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., auto_execute: _Optional[bool] = ...) -> None: ...

class RebalancingScheduled(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: RebalancingSchedule
    def __init__(self, schedule: _Optional[_Union[RebalancingSchedule, _Mapping]] = ...) -> None: ...

class PolicyTrained(_message.Message):
    __slots__ = ("policy_id", "episodes", "seed", "mean_reward", "weights", "tickers", "layer_sizes", "target_weights", "settings", "data_hash", "evaluation", "parent_policy_id", "promoted", "train_periods", "test_periods", "final_loss", "final_epsilon", "episode_rewards", "steps")
    class TargetWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    EPISODES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MEAN_REWARD_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    TICKERS_FIELD_NUMBER: _ClassVar[int]
    LAYER_SIZES_FIELD_NUMBER: _ClassVar[int]
    TARGET_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    DATA_HASH_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    PARENT_POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    TRAIN_PERIODS_FIELD_NUMBER: _ClassVar[int]
    TEST_PERIODS_FIELD_NUMBER: _ClassVar[int]
    FINAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    FINAL_EPSILON_FIELD_NUMBER: _ClassVar[int]
    EPISODE_REWARDS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    episodes: int
    seed: int
    mean_reward: float
    weights: bytes
    tickers: _containers.RepeatedScalarFieldContainer[str]
    layer_sizes: _containers.RepeatedScalarFieldContainer[int]
    target_weights: _containers.ScalarMap[str, str]
    settings: PolicySettings
    data_hash: str
    evaluation: _containers.RepeatedCompositeFieldContainer[StrategyEvaluation]
    parent_policy_id: str
    promoted: bool
    train_periods: int
    test_periods: int
    final_loss: float
    final_epsilon: float
    episode_rewards: _containers.RepeatedScalarFieldContainer[float]
    steps: int
    def __init__(self, policy_id: _Optional[str] = ..., episodes: _Optional[int] = ..., seed: _Optional[int] = ..., mean_reward: _Optional[float] = ..., weights: _Optional[bytes] = ..., tickers: _Optional[_Iterable[str]] = ..., layer_sizes: _Optional[_Iterable[int]] = ..., target_weights: _Optional[_Mapping[str, str]] = ..., settings: _Optional[_Union[PolicySettings, _Mapping]] = ..., data_hash: _Optional[str] = ..., evaluation: _Optional[_Iterable[_Union[StrategyEvaluation, _Mapping]]] = ..., parent_policy_id: _Optional[str] = ..., promoted: _Optional[bool] = ..., train_periods: _Optional[int] = ..., test_periods: _Optional[int] = ..., final_loss: _Optional[float] = ..., final_epsilon: _Optional[float] = ..., episode_rewards: _Optional[_Iterable[float]] = ..., steps: _Optional[int] = ...) -> None: ...

class PolicySettings(_message.Message):
    __slots__ = ("learning_rate", "discount", "risk_penalty", "cost_bps", "window", "shift", "train_fraction")
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    RISK_PENALTY_FIELD_NUMBER: _ClassVar[int]
    COST_BPS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FRACTION_FIELD_NUMBER: _ClassVar[int]
    learning_rate: float
    discount: float
    risk_penalty: float
    cost_bps: float
    window: int
    shift: float
    train_fraction: float
    def __init__(self, learning_rate: _Optional[float] = ..., discount: _Optional[float] = ..., risk_penalty: _Optional[float] = ..., cost_bps: _Optional[float] = ..., window: _Optional[int] = ..., shift: _Optional[float] = ..., train_fraction: _Optional[float] = ...) -> None: ...

class StrategyEvaluation(_message.Message):
    __slots__ = ("strategy", "total_return", "sharpe", "max_drawdown", "turnover", "actions")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RETURN_FIELD_NUMBER: _ClassVar[int]
    SHARPE_FIELD_NUMBER: _ClassVar[int]
    MAX_DRAWDOWN_FIELD_NUMBER: _ClassVar[int]
    TURNOVER_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    total_return: float
    sharpe: float
    max_drawdown: float
    turnover: float
    actions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, strategy: _Optional[str] = ..., total_return: _Optional[float] = ..., sharpe: _Optional[float] = ..., max_drawdown: _Optional[float] = ..., turnover: _Optional[float] = ..., actions: _Optional[_Iterable[int]] = ...) -> None: ...

class AgentAlert(_message.Message):
    __slots__ = ("alert_id", "client_id", "kind", "severity", "state", "message", "figures", "cause_event_ids", "rebalancing_id")
    class FiguresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    REBALANCING_ID_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    client_id: str
    kind: _common_pb2.AlertKind
    severity: _common_pb2.AlertSeverity
    state: AlertState
    message: str
    figures: _containers.ScalarMap[str, str]
    cause_event_ids: _containers.RepeatedScalarFieldContainer[str]
    rebalancing_id: str
    def __init__(self, alert_id: _Optional[str] = ..., client_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.AlertKind, str]] = ..., severity: _Optional[_Union[_common_pb2.AlertSeverity, str]] = ..., state: _Optional[_Union[AlertState, str]] = ..., message: _Optional[str] = ..., figures: _Optional[_Mapping[str, str]] = ..., cause_event_ids: _Optional[_Iterable[str]] = ..., rebalancing_id: _Optional[str] = ...) -> None: ...

class AlertAcknowledged(_message.Message):
    __slots__ = ("alert_id", "client_id", "note")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    client_id: str
    note: str
    def __init__(self, alert_id: _Optional[str] = ..., client_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...
