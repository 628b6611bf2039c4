import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ultracore.holdings.v1 import common_pb2 as _common_pb2
from ultracore.holdings.v1 import events_pb2 as _events_pb2
from ultracore.holdings.v1 import holdings_pb2 as _holdings_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TacticalSignal(_message.Message):
    __slots__ = ("lookback", "max_tilt", "policy_id")
    LOOKBACK_FIELD_NUMBER: _ClassVar[int]
    MAX_TILT_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    lookback: int
    max_tilt: str
    policy_id: str
    def __init__(self, lookback: _Optional[int] = ..., max_tilt: _Optional[str] = ..., policy_id: _Optional[str] = ...) -> None: ...

class EvaluateRebalancingRequest(_message.Message):
    __slots__ = ("client_id", "target_weights", "strategy", "band", "asset_bands", "cadence", "last_rebalanced_at", "signal", "as_of", "request_id")
    class TargetWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AssetBandsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _events_pb2.DriftBand
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_events_pb2.DriftBand, _Mapping]] = ...) -> None: ...
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    ASSET_BANDS_FIELD_NUMBER: _ClassVar[int]
    CADENCE_FIELD_NUMBER: _ClassVar[int]
    LAST_REBALANCED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    target_weights: _containers.ScalarMap[str, str]
    strategy: _events_pb2.RebalancingStrategy
    band: _events_pb2.DriftBand
    asset_bands: _containers.MessageMap[str, _events_pb2.DriftBand]
    cadence: _events_pb2.Cadence
    last_rebalanced_at: _timestamp_pb2.Timestamp
    signal: TacticalSignal
    as_of: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, client_id: _Optional[str] = ..., target_weights: _Optional[_Mapping[str, str]] = ..., strategy: _Optional[_Union[_events_pb2.RebalancingStrategy, str]] = ..., band: _Optional[_Union[_events_pb2.DriftBand, _Mapping]] = ..., asset_bands: _Optional[_Mapping[str, _events_pb2.DriftBand]] = ..., cadence: _Optional[_Union[_events_pb2.Cadence, str]] = ..., last_rebalanced_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signal: _Optional[_Union[TacticalSignal, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class EvaluateRebalancingResponse(_message.Message):
    __slots__ = ("drifts", "should_rebalance", "reasons", "effective_targets", "portfolio_value", "event_id", "rebalancing_id")
    class EffectiveTargetsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DRIFTS_FIELD_NUMBER: _ClassVar[int]
    SHOULD_REBALANCE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_TARGETS_FIELD_NUMBER: _ClassVar[int]
    PORTFOLIO_VALUE_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    REBALANCING_ID_FIELD_NUMBER: _ClassVar[int]
    drifts: _containers.RepeatedCompositeFieldContainer[_events_pb2.AssetDrift]
    should_rebalance: bool
    reasons: _containers.RepeatedScalarFieldContainer[str]
    effective_targets: _containers.ScalarMap[str, str]
    portfolio_value: str
    event_id: str
    rebalancing_id: str
    def __init__(self, drifts: _Optional[_Iterable[_Union[_events_pb2.AssetDrift, _Mapping]]] = ..., should_rebalance: _Optional[bool] = ..., reasons: _Optional[_Iterable[str]] = ..., effective_targets: _Optional[_Mapping[str, str]] = ..., portfolio_value: _Optional[str] = ..., event_id: _Optional[str] = ..., rebalancing_id: _Optional[str] = ...) -> None: ...

class PlanConstraints(_message.Message):
    __slots__ = ("min_trade_value", "cash_buffer", "allow_fractional_shares", "commission_per_trade", "commission_bps", "spread_bps", "short_term_tax_rate", "long_term_tax_rate")
    MIN_TRADE_VALUE_FIELD_NUMBER: _ClassVar[int]
    CASH_BUFFER_FIELD_NUMBER: _ClassVar[int]
    ALLOW_FRACTIONAL_SHARES_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_PER_TRADE_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_BPS_FIELD_NUMBER: _ClassVar[int]
    SPREAD_BPS_FIELD_NUMBER: _ClassVar[int]
    SHORT_TERM_TAX_RATE_FIELD_NUMBER: _ClassVar[int]
    LONG_TERM_TAX_RATE_FIELD_NUMBER: _ClassVar[int]
    min_trade_value: str
    cash_buffer: str
    allow_fractional_shares: bool
    commission_per_trade: str
    commission_bps: str
    spread_bps: str
    short_term_tax_rate: str
    long_term_tax_rate: str
    def __init__(self, min_trade_value: _Optional[str] = ..., cash_buffer: _Optional[str] = ..., allow_fractional_shares: _Optional[bool] = ..., commission_per_trade: _Optional[str] = ..., commission_bps: _Optional[str] = ..., spread_bps: _Optional[str] = ..., short_term_tax_rate: _Optional[str] = ..., long_term_tax_rate: _Optional[str] = ...) -> None: ...

class PlannedTrade(_message.Message):
    __slots__ = ("ticker", "side", "quantity", "estimated_price", "estimated_value", "commission", "spread_cost", "estimated_cost", "lots", "realized_gains", "tax_impact")
    TICKER_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_PRICE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_VALUE_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_FIELD_NUMBER: _ClassVar[int]
    SPREAD_COST_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_FIELD_NUMBER: _ClassVar[int]
    LOTS_FIELD_NUMBER: _ClassVar[int]
    REALIZED_GAINS_FIELD_NUMBER: _ClassVar[int]
    TAX_IMPACT_FIELD_NUMBER: _ClassVar[int]
    ticker: str
    side: _common_pb2.TradeSide
    quantity: str
    estimated_price: str
    estimated_value: str
    commission: str
    spread_cost: str
    estimated_cost: str
    lots: _containers.RepeatedCompositeFieldContainer[_common_pb2.LotSelection]
    realized_gains: _common_pb2.GainSummary
    tax_impact: str
    def __init__(self, ticker: _Optional[str] = ..., side: _Optional[_Union[_common_pb2.TradeSide, str]] = ..., quantity: _Optional[str] = ..., estimated_price: _Optional[str] = ..., estimated_value: _Optional[str] = ..., commission: _Optional[str] = ..., spread_cost: _Optional[str] = ..., estimated_cost: _Optional[str] = ..., lots: _Optional[_Iterable[_Union[_common_pb2.LotSelection, _Mapping]]] = ..., realized_gains: _Optional[_Union[_common_pb2.GainSummary, _Mapping]] = ..., tax_impact: _Optional[str] = ...) -> None: ...

class PlanRebalancingRequest(_message.Message):
    __slots__ = ("client_id", "target_weights", "strategy", "band", "constraints", "prices", "signal")
    class TargetWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PricesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    target_weights: _containers.ScalarMap[str, str]
    strategy: _events_pb2.RebalancingStrategy
    band: _events_pb2.DriftBand
    constraints: PlanConstraints
    prices: _containers.ScalarMap[str, str]
    signal: TacticalSignal
    def __init__(self, client_id: _Optional[str] = ..., target_weights: _Optional[_Mapping[str, str]] = ..., strategy: _Optional[_Union[_events_pb2.RebalancingStrategy, str]] = ..., band: _Optional[_Union[_events_pb2.DriftBand, _Mapping]] = ..., constraints: _Optional[_Union[PlanConstraints, _Mapping]] = ..., prices: _Optional[_Mapping[str, str]] = ..., signal: _Optional[_Union[TacticalSignal, _Mapping]] = ...) -> None: ...

class PlanRebalancingResponse(_message.Message):
    __slots__ = ("plan_id", "trades", "total_estimated_cost", "total_tax_impact", "projected_weights", "projected_cash")
    class ProjectedWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ESTIMATED_COST_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TAX_IMPACT_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_CASH_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    trades: _containers.RepeatedCompositeFieldContainer[PlannedTrade]
    total_estimated_cost: str
    total_tax_impact: str
    projected_weights: _containers.ScalarMap[str, str]
    projected_cash: str
    def __init__(self, plan_id: _Optional[str] = ..., trades: _Optional[_Iterable[_Union[PlannedTrade, _Mapping]]] = ..., total_estimated_cost: _Optional[str] = ..., total_tax_impact: _Optional[str] = ..., projected_weights: _Optional[_Mapping[str, str]] = ..., projected_cash: _Optional[str] = ...) -> None: ...

class ExecuteRebalancingRequest(_message.Message):
    __slots__ = ("client_id", "plan_id", "dry_run", "request_id")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    plan_id: str
    dry_run: bool
    request_id: str
    def __init__(self, client_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., dry_run: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class ExecutedTrade(_message.Message):
    __slots__ = ("trade", "position_id", "realized", "event_id")
    TRADE_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    REALIZED_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    trade: PlannedTrade
    position_id: str
    realized: _containers.RepeatedCompositeFieldContainer[_common_pb2.RealizedLot]
    event_id: str
    def __init__(self, trade: _Optional[_Union[PlannedTrade, _Mapping]] = ..., position_id: _Optional[str] = ..., realized: _Optional[_Iterable[_Union[_common_pb2.RealizedLot, _Mapping]]] = ..., event_id: _Optional[str] = ...) -> None: ...

class ExecuteRebalancingResponse(_message.Message):
    __slots__ = ("rebalancing_id", "dry_run", "trades", "portfolio", "total_cost")
    REBALANCING_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    PORTFOLIO_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    rebalancing_id: str
    dry_run: bool
    trades: _containers.RepeatedCompositeFieldContainer[ExecutedTrade]
    portfolio: _holdings_pb2.GetPortfolioValueResponse
    total_cost: str
    def __init__(self, rebalancing_id: _Optional[str] = ..., dry_run: _Optional[bool] = ..., trades: _Optional[_Iterable[_Union[ExecutedTrade, _Mapping]]] = ..., portfolio: _Optional[_Union[_holdings_pb2.GetPortfolioValueResponse, _Mapping]] = ..., total_cost: _Optional[str] = ...) -> None: ...

class ScheduleRebalancingRequest(_message.Message):
    __slots__ = ("client_id", "cadence", "strategy", "target_weights", "band", "start_at", "auto_execute", "enabled", "request_id")
    class TargetWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CADENCE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    TARGET_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    AUTO_EXECUTE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    cadence: _events_pb2.Cadence
    strategy: _events_pb2.RebalancingStrategy
    target_weights: _containers.ScalarMap[str, str]
    band: _events_pb2.DriftBand
    start_at: _timestamp_pb2.Timestamp
    auto_execute: bool
    enabled: bool
    request_id: str
    def __init__(self, client_id: _Optional[str] = ..., cadence: _Optional[_Union[_events_pb2.Cadence, str]] = ..., strategy: _Optional[_Union[_events_pb2.RebalancingStrategy, str]] = ..., target_weights: _Optional[_Mapping[str, str]] = ..., band: _Optional[_Union[_events_pb2.DriftBand, _Mapping]] = ..., start_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., auto_execute: _Optional[bool] = ..., enabled: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class ScheduleRebalancingResponse(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: _events_pb2.RebalancingSchedule
    def __init__(self, schedule: _Optional[_Union[_events_pb2.RebalancingSchedule, _Mapping]] = ...) -> None: ...
