import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClientHistory(_message.Message):
    __slots__ = ("client_id", "start_time", "end_time")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ValueSeries(_message.Message):
    __slots__ = ("values", "times")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    times: _containers.RepeatedCompositeFieldContainer[_timestamp_pb2.Timestamp]
    def __init__(self, values: _Optional[_Iterable[str]] = ..., times: _Optional[_Iterable[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]]] = ...) -> None: ...

class ReturnSeries(_message.Message):
    __slots__ = ("returns", "times")
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    returns: _containers.RepeatedScalarFieldContainer[float]
    times: _containers.RepeatedCompositeFieldContainer[_timestamp_pb2.Timestamp]
    def __init__(self, returns: _Optional[_Iterable[float]] = ..., times: _Optional[_Iterable[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]]] = ...) -> None: ...

class SeriesInput(_message.Message):
    __slots__ = ("history", "values", "returns")
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    history: ClientHistory
    values: ValueSeries
    returns: ReturnSeries
    def __init__(self, history: _Optional[_Union[ClientHistory, _Mapping]] = ..., values: _Optional[_Union[ValueSeries, _Mapping]] = ..., returns: _Optional[_Union[ReturnSeries, _Mapping]] = ...) -> None: ...

class CashFlow(_message.Message):
    __slots__ = ("time", "amount")
    TIME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    amount: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., amount: _Optional[str] = ...) -> None: ...

class UndefinedStatistic(_message.Message):
    __slots__ = ("statistic", "reason")
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    statistic: str
    reason: str
    def __init__(self, statistic: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ComputePerformanceRequest(_message.Message):
    __slots__ = ("series", "periods_per_year", "risk_free_rate", "cash_flows")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    PERIODS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    RISK_FREE_RATE_FIELD_NUMBER: _ClassVar[int]
    CASH_FLOWS_FIELD_NUMBER: _ClassVar[int]
    series: SeriesInput
    periods_per_year: float
    risk_free_rate: float
    cash_flows: _containers.RepeatedCompositeFieldContainer[CashFlow]
    def __init__(self, series: _Optional[_Union[SeriesInput, _Mapping]] = ..., periods_per_year: _Optional[float] = ..., risk_free_rate: _Optional[float] = ..., cash_flows: _Optional[_Iterable[_Union[CashFlow, _Mapping]]] = ...) -> None: ...

class ComputePerformanceResponse(_message.Message):
    __slots__ = ("total_return", "cagr", "annual_volatility", "time_weighted_return", "money_weighted_return", "observations", "calmar", "undefined")
    TOTAL_RETURN_FIELD_NUMBER: _ClassVar[int]
    CAGR_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    TIME_WEIGHTED_RETURN_FIELD_NUMBER: _ClassVar[int]
    MONEY_WEIGHTED_RETURN_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    CALMAR_FIELD_NUMBER: _ClassVar[int]
    UNDEFINED_FIELD_NUMBER: _ClassVar[int]
    total_return: float
    cagr: float
    annual_volatility: float
    time_weighted_return: float
    money_weighted_return: float
    observations: int
    calmar: float
    undefined: _containers.RepeatedCompositeFieldContainer[UndefinedStatistic]
    def __init__(self, total_return: _Optional[float] = ..., cagr: _Optional[float] = ..., annual_volatility: _Optional[float] = ..., time_weighted_return: _Optional[float] = ..., money_weighted_return: _Optional[float] = ..., observations: _Optional[int] = ..., calmar: _Optional[float] = ..., undefined: _Optional[_Iterable[_Union[UndefinedStatistic, _Mapping]]] = ...) -> None: ...

class ComputeSharpeRequest(_message.Message):
    __slots__ = ("series", "periods_per_year", "risk_free_rate", "required_return")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    PERIODS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    RISK_FREE_RATE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_RETURN_FIELD_NUMBER: _ClassVar[int]
    series: SeriesInput
    periods_per_year: float
    risk_free_rate: float
    required_return: float
    def __init__(self, series: _Optional[_Union[SeriesInput, _Mapping]] = ..., periods_per_year: _Optional[float] = ..., risk_free_rate: _Optional[float] = ..., required_return: _Optional[float] = ...) -> None: ...

class ComputeSharpeResponse(_message.Message):
    __slots__ = ("sharpe", "sortino", "downside_risk", "observations", "undefined")
    SHARPE_FIELD_NUMBER: _ClassVar[int]
    SORTINO_FIELD_NUMBER: _ClassVar[int]
    DOWNSIDE_RISK_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    UNDEFINED_FIELD_NUMBER: _ClassVar[int]
    sharpe: float
    sortino: float
    downside_risk: float
    observations: int
    undefined: _containers.RepeatedCompositeFieldContainer[UndefinedStatistic]
    def __init__(self, sharpe: _Optional[float] = ..., sortino: _Optional[float] = ..., downside_risk: _Optional[float] = ..., observations: _Optional[int] = ..., undefined: _Optional[_Iterable[_Union[UndefinedStatistic, _Mapping]]] = ...) -> None: ...

class ComputeMaxDrawdownRequest(_message.Message):
    __slots__ = ("series",)
    SERIES_FIELD_NUMBER: _ClassVar[int]
    series: SeriesInput
    def __init__(self, series: _Optional[_Union[SeriesInput, _Mapping]] = ...) -> None: ...

class ComputeMaxDrawdownResponse(_message.Message):
    __slots__ = ("max_drawdown", "peak_index", "trough_index", "recovery_index", "duration_periods", "peak_time", "trough_time", "recovery_time")
    MAX_DRAWDOWN_FIELD_NUMBER: _ClassVar[int]
    PEAK_INDEX_FIELD_NUMBER: _ClassVar[int]
    TROUGH_INDEX_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_INDEX_FIELD_NUMBER: _ClassVar[int]
    DURATION_PERIODS_FIELD_NUMBER: _ClassVar[int]
    PEAK_TIME_FIELD_NUMBER: _ClassVar[int]
    TROUGH_TIME_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_TIME_FIELD_NUMBER: _ClassVar[int]
    max_drawdown: float
    peak_index: int
    trough_index: int
    recovery_index: int
    duration_periods: int
    peak_time: _timestamp_pb2.Timestamp
    trough_time: _timestamp_pb2.Timestamp
    recovery_time: _timestamp_pb2.Timestamp
    def __init__(self, max_drawdown: _Optional[float] = ..., peak_index: _Optional[int] = ..., trough_index: _Optional[int] = ..., recovery_index: _Optional[int] = ..., duration_periods: _Optional[int] = ..., peak_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trough_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recovery_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ComputeAlphaBetaRequest(_message.Message):
    __slots__ = ("series", "benchmark", "periods_per_year", "risk_free_rate")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_FIELD_NUMBER: _ClassVar[int]
    PERIODS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    RISK_FREE_RATE_FIELD_NUMBER: _ClassVar[int]
    series: SeriesInput
    benchmark: SeriesInput
    periods_per_year: float
    risk_free_rate: float
    def __init__(self, series: _Optional[_Union[SeriesInput, _Mapping]] = ..., benchmark: _Optional[_Union[SeriesInput, _Mapping]] = ..., periods_per_year: _Optional[float] = ..., risk_free_rate: _Optional[float] = ...) -> None: ...

class ComputeAlphaBetaResponse(_message.Message):
    __slots__ = ("alpha", "beta", "r_squared", "information_ratio", "tracking_error", "observations", "undefined")
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    R_SQUARED_FIELD_NUMBER: _ClassVar[int]
    INFORMATION_RATIO_FIELD_NUMBER: _ClassVar[int]
    TRACKING_ERROR_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    UNDEFINED_FIELD_NUMBER: _ClassVar[int]
    alpha: float
    beta: float
    r_squared: float
    information_ratio: float
    tracking_error: float
    observations: int
    undefined: _containers.RepeatedCompositeFieldContainer[UndefinedStatistic]
    def __init__(self, alpha: _Optional[float] = ..., beta: _Optional[float] = ..., r_squared: _Optional[float] = ..., information_ratio: _Optional[float] = ..., tracking_error: _Optional[float] = ..., observations: _Optional[int] = ..., undefined: _Optional[_Iterable[_Union[UndefinedStatistic, _Mapping]]] = ...) -> None: ...
