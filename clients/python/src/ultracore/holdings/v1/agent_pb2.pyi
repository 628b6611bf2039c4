import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ultracore.holdings.v1 import analytics_pb2 as _analytics_pb2
from ultracore.holdings.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RiskLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_LEVEL_UNSPECIFIED: _ClassVar[RiskLevel]
    RISK_LOW: _ClassVar[RiskLevel]
    RISK_MODERATE: _ClassVar[RiskLevel]
    RISK_HIGH: _ClassVar[RiskLevel]
    RISK_SEVERE: _ClassVar[RiskLevel]

class AnomalyKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANOMALY_KIND_UNSPECIFIED: _ClassVar[AnomalyKind]
    VALUATION_JUMP: _ClassVar[AnomalyKind]
    TRADE_SIZE: _ClassVar[AnomalyKind]
    TRADE_PRICE: _ClassVar[AnomalyKind]

class PolicyAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_ACTION_UNSPECIFIED: _ClassVar[PolicyAction]
    HOLD: _ClassVar[PolicyAction]
    REBALANCE_TO_TARGET: _ClassVar[PolicyAction]
    INCREASE_RISK: _ClassVar[PolicyAction]
    DECREASE_RISK: _ClassVar[PolicyAction]
RISK_LEVEL_UNSPECIFIED: RiskLevel
RISK_LOW: RiskLevel
RISK_MODERATE: RiskLevel
RISK_HIGH: RiskLevel
RISK_SEVERE: RiskLevel
ANOMALY_KIND_UNSPECIFIED: AnomalyKind
VALUATION_JUMP: AnomalyKind
TRADE_SIZE: AnomalyKind
TRADE_PRICE: AnomalyKind
POLICY_ACTION_UNSPECIFIED: PolicyAction
HOLD: PolicyAction
REBALANCE_TO_TARGET: PolicyAction
INCREASE_RISK: PolicyAction
DECREASE_RISK: PolicyAction

class ListAlertsRequest(_message.Message):
    __slots__ = ("client_id", "include_cleared", "max_alerts")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CLEARED_FIELD_NUMBER: _ClassVar[int]
    MAX_ALERTS_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    include_cleared: bool
    max_alerts: int
    def __init__(self, client_id: _Optional[str] = ..., include_cleared: _Optional[bool] = ..., max_alerts: _Optional[int] = ...) -> None: ...

class AlertRecord(_message.Message):
    __slots__ = ("alert", "raised_event_id", "raised_at", "cleared_at", "acknowledged_at", "acknowledged_by", "note")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    RAISED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RAISED_AT_FIELD_NUMBER: _ClassVar[int]
    CLEARED_AT_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_AT_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    alert: _events_pb2.AgentAlert
    raised_event_id: str
    raised_at: _timestamp_pb2.Timestamp
    cleared_at: _timestamp_pb2.Timestamp
    acknowledged_at: _timestamp_pb2.Timestamp
    acknowledged_by: str
    note: str
    def __init__(self, alert: _Optional[_Union[_events_pb2.AgentAlert, _Mapping]] = ..., raised_event_id: _Optional[str] = ..., raised_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cleared_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acknowledged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acknowledged_by: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[AlertRecord]
    def __init__(self, alerts: _Optional[_Iterable[_Union[AlertRecord, _Mapping]]] = ...) -> None: ...

class AcknowledgeAlertRequest(_message.Message):
    __slots__ = ("client_id", "alert_id", "note", "request_id")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    alert_id: str
    note: str
    request_id: str
    def __init__(self, client_id: _Optional[str] = ..., alert_id: _Optional[str] = ..., note: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AcknowledgeAlertResponse(_message.Message):
    __slots__ = ("alert", "event_id")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    alert: AlertRecord
    event_id: str
    def __init__(self, alert: _Optional[_Union[AlertRecord, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class AssessRiskRequest(_message.Message):
    __slots__ = ("client_id", "confidence", "horizon_days", "series", "benchmark", "periods_per_year")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    HORIZON_DAYS_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_FIELD_NUMBER: _ClassVar[int]
    PERIODS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    confidence: float
    horizon_days: int
    series: _analytics_pb2.SeriesInput
    benchmark: _analytics_pb2.SeriesInput
    periods_per_year: float
    def __init__(self, client_id: _Optional[str] = ..., confidence: _Optional[float] = ..., horizon_days: _Optional[int] = ..., series: _Optional[_Union[_analytics_pb2.SeriesInput, _Mapping]] = ..., benchmark: _Optional[_Union[_analytics_pb2.SeriesInput, _Mapping]] = ..., periods_per_year: _Optional[float] = ...) -> None: ...

class AssessRiskResponse(_message.Message):
    __slots__ = ("volatility", "value_at_risk", "expected_shortfall", "concentration", "largest_weight", "risk_level", "reasons", "historical_var_return", "historical_es_return", "parametric_var_return", "parametric_es_return", "parametric_value_at_risk", "parametric_expected_shortfall", "beta", "market_value", "observations", "undefined")
    VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    VALUE_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHORTFALL_FIELD_NUMBER: _ClassVar[int]
    CONCENTRATION_FIELD_NUMBER: _ClassVar[int]
    LARGEST_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    HISTORICAL_VAR_RETURN_FIELD_NUMBER: _ClassVar[int]
    HISTORICAL_ES_RETURN_FIELD_NUMBER: _ClassVar[int]
    PARAMETRIC_VAR_RETURN_FIELD_NUMBER: _ClassVar[int]
    PARAMETRIC_ES_RETURN_FIELD_NUMBER: _ClassVar[int]
    PARAMETRIC_VALUE_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    PARAMETRIC_EXPECTED_SHORTFALL_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    MARKET_VALUE_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    UNDEFINED_FIELD_NUMBER: _ClassVar[int]
    volatility: float
    value_at_risk: str
    expected_shortfall: str
    concentration: float
    largest_weight: str
    risk_level: RiskLevel
    reasons: _containers.RepeatedScalarFieldContainer[str]
    historical_var_return: float
    historical_es_return: float
    parametric_var_return: float
    parametric_es_return: float
    parametric_value_at_risk: str
    parametric_expected_shortfall: str
    beta: float
    market_value: str
    observations: int
    undefined: _containers.RepeatedCompositeFieldContainer[_analytics_pb2.UndefinedStatistic]
    def __init__(self, volatility: _Optional[float] = ..., value_at_risk: _Optional[str] = ..., expected_shortfall: _Optional[str] = ..., concentration: _Optional[float] = ..., largest_weight: _Optional[str] = ..., risk_level: _Optional[_Union[RiskLevel, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., historical_var_return: _Optional[float] = ..., historical_es_return: _Optional[float] = ..., parametric_var_return: _Optional[float] = ..., parametric_es_return: _Optional[float] = ..., parametric_value_at_risk: _Optional[str] = ..., parametric_expected_shortfall: _Optional[str] = ..., beta: _Optional[float] = ..., market_value: _Optional[str] = ..., observations: _Optional[int] = ..., undefined: _Optional[_Iterable[_Union[_analytics_pb2.UndefinedStatistic, _Mapping]]] = ...) -> None: ...

class Anomaly(_message.Message):
    __slots__ = ("kind", "event_id", "event_type", "position_id", "ticker", "observed", "expected", "z_score", "reason", "occurred_at", "ewma_z_score")
    KIND_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    TICKER_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    Z_SCORE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    EWMA_Z_SCORE_FIELD_NUMBER: _ClassVar[int]
    kind: AnomalyKind
    event_id: str
    event_type: _events_pb2.EventType
    position_id: str
    ticker: str
    observed: str
    expected: str
    z_score: float
    reason: str
    occurred_at: _timestamp_pb2.Timestamp
    ewma_z_score: float
    def __init__(self, kind: _Optional[_Union[AnomalyKind, str]] = ..., event_id: _Optional[str] = ..., event_type: _Optional[_Union[_events_pb2.EventType, str]] = ..., position_id: _Optional[str] = ..., ticker: _Optional[str] = ..., observed: _Optional[str] = ..., expected: _Optional[str] = ..., z_score: _Optional[float] = ..., reason: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ewma_z_score: _Optional[float] = ...) -> None: ...

class DetectAnomaliesRequest(_message.Message):
    __slots__ = ("client_id", "z_threshold", "lookback")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    Z_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LOOKBACK_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    z_threshold: float
    lookback: int
    def __init__(self, client_id: _Optional[str] = ..., z_threshold: _Optional[float] = ..., lookback: _Optional[int] = ...) -> None: ...

class DetectAnomaliesResponse(_message.Message):
    __slots__ = ("anomalies", "examined")
    ANOMALIES_FIELD_NUMBER: _ClassVar[int]
    EXAMINED_FIELD_NUMBER: _ClassVar[int]
    anomalies: _containers.RepeatedCompositeFieldContainer[Anomaly]
    examined: int
    def __init__(self, anomalies: _Optional[_Iterable[_Union[Anomaly, _Mapping]]] = ..., examined: _Optional[int] = ...) -> None: ...

class RecommendRebalancingRequest(_message.Message):
    __slots__ = ("client_id", "target_weights", "drift_threshold", "policy_id")
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
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    target_weights: _containers.ScalarMap[str, str]
    drift_threshold: str
    policy_id: str
    def __init__(self, client_id: _Optional[str] = ..., target_weights: _Optional[_Mapping[str, str]] = ..., drift_threshold: _Optional[str] = ..., policy_id: _Optional[str] = ...) -> None: ...

class RecommendRebalancingResponse(_message.Message):
    __slots__ = ("recommend", "strategy", "reasons", "drifts", "confidence", "target_weights", "portfolio_value")
    class TargetWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RECOMMEND_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    DRIFTS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    PORTFOLIO_VALUE_FIELD_NUMBER: _ClassVar[int]
    recommend: bool
    strategy: _events_pb2.RebalancingStrategy
    reasons: _containers.RepeatedScalarFieldContainer[str]
    drifts: _containers.RepeatedCompositeFieldContainer[_events_pb2.AssetDrift]
    confidence: float
    target_weights: _containers.ScalarMap[str, str]
    portfolio_value: str
    def __init__(self, recommend: _Optional[bool] = ..., strategy: _Optional[_Union[_events_pb2.RebalancingStrategy, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., drifts: _Optional[_Iterable[_Union[_events_pb2.AssetDrift, _Mapping]]] = ..., confidence: _Optional[float] = ..., target_weights: _Optional[_Mapping[str, str]] = ..., portfolio_value: _Optional[str] = ...) -> None: ...

class PriceHistory(_message.Message):
    __slots__ = ("ticker", "prices")
    TICKER_FIELD_NUMBER: _ClassVar[int]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    ticker: str
    prices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ticker: _Optional[str] = ..., prices: _Optional[_Iterable[str]] = ...) -> None: ...

class TrainPolicyRequest(_message.Message):
    __slots__ = ("histories", "episodes", "seed", "learning_rate", "discount", "request_id", "target_weights", "risk_penalty", "cost_bps", "warm_start_policy_id")
    class TargetWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HISTORIES_FIELD_NUMBER: _ClassVar[int]
    EPISODES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    RISK_PENALTY_FIELD_NUMBER: _ClassVar[int]
    COST_BPS_FIELD_NUMBER: _ClassVar[int]
    WARM_START_POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    histories: _containers.RepeatedCompositeFieldContainer[PriceHistory]
    episodes: int
    seed: int
    learning_rate: float
    discount: float
    request_id: str
    target_weights: _containers.ScalarMap[str, str]
    risk_penalty: float
    cost_bps: float
    warm_start_policy_id: str
    def __init__(self, histories: _Optional[_Iterable[_Union[PriceHistory, _Mapping]]] = ..., episodes: _Optional[int] = ..., seed: _Optional[int] = ..., learning_rate: _Optional[float] = ..., discount: _Optional[float] = ..., request_id: _Optional[str] = ..., target_weights: _Optional[_Mapping[str, str]] = ..., risk_penalty: _Optional[float] = ..., cost_bps: _Optional[float] = ..., warm_start_policy_id: _Optional[str] = ...) -> None: ...

class TrainPolicyProgress(_message.Message):
    __slots__ = ("episode", "episodes", "episode_reward", "epsilon", "loss", "result")
    EPISODE_FIELD_NUMBER: _ClassVar[int]
    EPISODES_FIELD_NUMBER: _ClassVar[int]
    EPISODE_REWARD_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    episode: int
    episodes: int
    episode_reward: float
    epsilon: float
    loss: float
    result: TrainPolicyResponse
    def __init__(self, episode: _Optional[int] = ..., episodes: _Optional[int] = ..., episode_reward: _Optional[float] = ..., epsilon: _Optional[float] = ..., loss: _Optional[float] = ..., result: _Optional[_Union[TrainPolicyResponse, _Mapping]] = ...) -> None: ...

class TrainPolicyResponse(_message.Message):
    __slots__ = ("policy_id", "episode_rewards", "mean_reward", "final_loss", "final_epsilon", "evaluation", "promoted", "data_hash", "train_periods", "test_periods", "steps", "replayed", "event_id")
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    EPISODE_REWARDS_FIELD_NUMBER: _ClassVar[int]
    MEAN_REWARD_FIELD_NUMBER: _ClassVar[int]
    FINAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    FINAL_EPSILON_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    DATA_HASH_FIELD_NUMBER: _ClassVar[int]
    TRAIN_PERIODS_FIELD_NUMBER: _ClassVar[int]
    TEST_PERIODS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    episode_rewards: _containers.RepeatedScalarFieldContainer[float]
    mean_reward: float
    final_loss: float
    final_epsilon: float
    evaluation: _containers.RepeatedCompositeFieldContainer[_events_pb2.StrategyEvaluation]
    promoted: bool
    data_hash: str
    train_periods: int
    test_periods: int
    steps: int
    replayed: bool
    event_id: str
    def __init__(self, policy_id: _Optional[str] = ..., episode_rewards: _Optional[_Iterable[float]] = ..., mean_reward: _Optional[float] = ..., final_loss: _Optional[float] = ..., final_epsilon: _Optional[float] = ..., evaluation: _Optional[_Iterable[_Union[_events_pb2.StrategyEvaluation, _Mapping]]] = ..., promoted: _Optional[bool] = ..., data_hash: _Optional[str] = ..., train_periods: _Optional[int] = ..., test_periods: _Optional[int] = ..., steps: _Optional[int] = ..., replayed: _Optional[bool] = ..., event_id: _Optional[str] = ...) -> None: ...

class ActionValue(_message.Message):
    __slots__ = ("action", "q_value")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    Q_VALUE_FIELD_NUMBER: _ClassVar[int]
    action: PolicyAction
    q_value: float
    def __init__(self, action: _Optional[_Union[PolicyAction, str]] = ..., q_value: _Optional[float] = ...) -> None: ...

class RecommendActionRequest(_message.Message):
    __slots__ = ("client_id", "policy_id", "recent_prices")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    RECENT_PRICES_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    policy_id: str
    recent_prices: _containers.RepeatedCompositeFieldContainer[PriceHistory]
    def __init__(self, client_id: _Optional[str] = ..., policy_id: _Optional[str] = ..., recent_prices: _Optional[_Iterable[_Union[PriceHistory, _Mapping]]] = ...) -> None: ...

class RecommendActionResponse(_message.Message):
    __slots__ = ("action", "q_values", "state", "weights", "proposed_weights")
    class WeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ProposedWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    Q_VALUES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    action: PolicyAction
    q_values: _containers.RepeatedCompositeFieldContainer[ActionValue]
    state: _containers.RepeatedScalarFieldContainer[float]
    weights: _containers.ScalarMap[str, str]
    proposed_weights: _containers.ScalarMap[str, str]
    def __init__(self, action: _Optional[_Union[PolicyAction, str]] = ..., q_values: _Optional[_Iterable[_Union[ActionValue, _Mapping]]] = ..., state: _Optional[_Iterable[float]] = ..., weights: _Optional[_Mapping[str, str]] = ..., proposed_weights: _Optional[_Mapping[str, str]] = ...) -> None: ...
