import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ultracore.holdings.v1 import common_pb2 as _common_pb2
from ultracore.holdings.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QualityRuleName(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUALITY_RULE_NAME_UNSPECIFIED: _ClassVar[QualityRuleName]
    ENVELOPE_COMPLETE: _ClassVar[QualityRuleName]
    PAYLOAD_COMPLETE: _ClassVar[QualityRuleName]
    QUANTITIES_POSITIVE: _ClassVar[QualityRuleName]
    PRICES_POSITIVE: _ClassVar[QualityRuleName]
    IDENTIFIERS_VALID: _ClassVar[QualityRuleName]
    TIME_NOT_FUTURE: _ClassVar[QualityRuleName]
    AMOUNTS_RECONCILE: _ClassVar[QualityRuleName]
    VERSION_SEQUENCE: _ClassVar[QualityRuleName]
    UNIQUE_IDS: _ClassVar[QualityRuleName]
    INGESTED_PROMPTLY: _ClassVar[QualityRuleName]
    BOOKED_PROMPTLY: _ClassVar[QualityRuleName]

class DataClassification(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_CLASSIFICATION_UNSPECIFIED: _ClassVar[DataClassification]
    DATA_INTERNAL: _ClassVar[DataClassification]
    DATA_CONFIDENTIAL: _ClassVar[DataClassification]
QUALITY_RULE_NAME_UNSPECIFIED: QualityRuleName
ENVELOPE_COMPLETE: QualityRuleName
PAYLOAD_COMPLETE: QualityRuleName
QUANTITIES_POSITIVE: QualityRuleName
PRICES_POSITIVE: QualityRuleName
IDENTIFIERS_VALID: QualityRuleName
TIME_NOT_FUTURE: QualityRuleName
AMOUNTS_RECONCILE: QualityRuleName
VERSION_SEQUENCE: QualityRuleName
UNIQUE_IDS: QualityRuleName
INGESTED_PROMPTLY: QualityRuleName
BOOKED_PROMPTLY: QualityRuleName
DATA_CLASSIFICATION_UNSPECIFIED: DataClassification
DATA_INTERNAL: DataClassification
DATA_CONFIDENTIAL: DataClassification

class GetDataQualityRequest(_message.Message):
    __slots__ = ("client_id", "position_id", "data_product", "since", "until")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    position_id: str
    data_product: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., position_id: _Optional[str] = ..., data_product: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QualityRule(_message.Message):
    __slots__ = ("name", "description", "passed", "weight", "checked", "failed", "detail", "dimension", "critical", "points_lost")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_FIELD_NUMBER: _ClassVar[int]
    POINTS_LOST_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    passed: bool
    weight: int
    checked: int
    failed: int
    detail: str
    dimension: str
    critical: bool
    points_lost: float
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., passed: _Optional[bool] = ..., weight: _Optional[int] = ..., checked: _Optional[int] = ..., failed: _Optional[int] = ..., detail: _Optional[str] = ..., dimension: _Optional[str] = ..., critical: _Optional[bool] = ..., points_lost: _Optional[float] = ...) -> None: ...

class QualitySlice(_message.Message):
    __slots__ = ("name", "score", "events", "imperfect_events")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    IMPERFECT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    score: int
    events: int
    imperfect_events: int
    def __init__(self, name: _Optional[str] = ..., score: _Optional[int] = ..., events: _Optional[int] = ..., imperfect_events: _Optional[int] = ...) -> None: ...

class GetDataQualityResponse(_message.Message):
    __slots__ = ("score", "rules", "events_examined", "score_exact", "products", "days", "quarantined")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    EVENTS_EXAMINED_FIELD_NUMBER: _ClassVar[int]
    SCORE_EXACT_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    score: int
    rules: _containers.RepeatedCompositeFieldContainer[QualityRule]
    events_examined: int
    score_exact: float
    products: _containers.RepeatedCompositeFieldContainer[QualitySlice]
    days: _containers.RepeatedCompositeFieldContainer[QualitySlice]
    quarantined: int
    def __init__(self, score: _Optional[int] = ..., rules: _Optional[_Iterable[_Union[QualityRule, _Mapping]]] = ..., events_examined: _Optional[int] = ..., score_exact: _Optional[float] = ..., products: _Optional[_Iterable[_Union[QualitySlice, _Mapping]]] = ..., days: _Optional[_Iterable[_Union[QualitySlice, _Mapping]]] = ..., quarantined: _Optional[int] = ...) -> None: ...

class GetLineageRequest(_message.Message):
    __slots__ = ("event_id", "position_id", "depth", "max_nodes")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    MAX_NODES_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    position_id: str
    depth: int
    max_nodes: int
    def __init__(self, event_id: _Optional[str] = ..., position_id: _Optional[str] = ..., depth: _Optional[int] = ..., max_nodes: _Optional[int] = ...) -> None: ...

class LineageNode(_message.Message):
    __slots__ = ("event_id", "event_type", "aggregate_id", "aggregate_version", "source", "occurred_at", "correlation_id", "causation_id", "quality_score", "distance", "client_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_type: _events_pb2.EventType
    aggregate_id: str
    aggregate_version: int
    source: str
    occurred_at: _timestamp_pb2.Timestamp
    correlation_id: str
    causation_id: str
    quality_score: int
    distance: int
    client_id: str
    def __init__(self, event_id: _Optional[str] = ..., event_type: _Optional[_Union[_events_pb2.EventType, str]] = ..., aggregate_id: _Optional[str] = ..., aggregate_version: _Optional[int] = ..., source: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ..., causation_id: _Optional[str] = ..., quality_score: _Optional[int] = ..., distance: _Optional[int] = ..., client_id: _Optional[str] = ...) -> None: ...

class LineageEdge(_message.Message):
    __slots__ = ("from_event_id", "to_event_id", "relation")
    FROM_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TO_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    from_event_id: str
    to_event_id: str
    relation: str
    def __init__(self, from_event_id: _Optional[str] = ..., to_event_id: _Optional[str] = ..., relation: _Optional[str] = ...) -> None: ...

class LineageOutput(_message.Message):
    __slots__ = ("event_id", "dataset", "key", "effect")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    dataset: str
    key: str
    effect: str
    def __init__(self, event_id: _Optional[str] = ..., dataset: _Optional[str] = ..., key: _Optional[str] = ..., effect: _Optional[str] = ...) -> None: ...

class GetLineageResponse(_message.Message):
    __slots__ = ("nodes", "edges", "outputs", "truncated")
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[LineageNode]
    edges: _containers.RepeatedCompositeFieldContainer[LineageEdge]
    outputs: _containers.RepeatedCompositeFieldContainer[LineageOutput]
    truncated: bool
    def __init__(self, nodes: _Optional[_Iterable[_Union[LineageNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[LineageEdge, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[LineageOutput, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class ListMaterializedViewsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MaterializedView(_message.Message):
    __slots__ = ("name", "description", "row_count", "last_applied_at", "lag_events", "lag_seconds", "owner", "source_topics")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_APPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    LAG_EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAG_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TOPICS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    row_count: int
    last_applied_at: _timestamp_pb2.Timestamp
    lag_events: int
    lag_seconds: float
    owner: str
    source_topics: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., row_count: _Optional[int] = ..., last_applied_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lag_events: _Optional[int] = ..., lag_seconds: _Optional[float] = ..., owner: _Optional[str] = ..., source_topics: _Optional[_Iterable[str]] = ...) -> None: ...

class ListMaterializedViewsResponse(_message.Message):
    __slots__ = ("views", "partitions")
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    views: _containers.RepeatedCompositeFieldContainer[MaterializedView]
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionLag]
    def __init__(self, views: _Optional[_Iterable[_Union[MaterializedView, _Mapping]]] = ..., partitions: _Optional[_Iterable[_Union[PartitionLag, _Mapping]]] = ...) -> None: ...

class PartitionLag(_message.Message):
    __slots__ = ("topic", "partition", "high_watermark", "projected_offset")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    HIGH_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_OFFSET_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    high_watermark: int
    projected_offset: int
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., high_watermark: _Optional[int] = ..., projected_offset: _Optional[int] = ...) -> None: ...

class ListDataProductsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DataProduct(_message.Message):
    __slots__ = ("name", "kind", "owner", "description", "schema_version", "classification", "retention", "event_types", "served_by")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    owner: str
    description: str
    schema_version: int
    classification: DataClassification
    retention: str
    event_types: _containers.RepeatedScalarFieldContainer[_events_pb2.EventType]
    served_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., owner: _Optional[str] = ..., description: _Optional[str] = ..., schema_version: _Optional[int] = ..., classification: _Optional[_Union[DataClassification, str]] = ..., retention: _Optional[str] = ..., event_types: _Optional[_Iterable[_Union[_events_pb2.EventType, str]]] = ..., served_by: _Optional[_Iterable[str]] = ...) -> None: ...

class ListDataProductsResponse(_message.Message):
    __slots__ = ("products", "schema_evolution_rules")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_EVOLUTION_RULES_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[DataProduct]
    schema_evolution_rules: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, products: _Optional[_Iterable[_Union[DataProduct, _Mapping]]] = ..., schema_evolution_rules: _Optional[_Iterable[str]] = ...) -> None: ...

class GetPortfolioAsOfRequest(_message.Message):
    __slots__ = ("client_id", "as_of_time", "max_positions")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    as_of_time: _timestamp_pb2.Timestamp
    max_positions: int
    def __init__(self, client_id: _Optional[str] = ..., as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_positions: _Optional[int] = ...) -> None: ...

class GetPortfolioAsOfResponse(_message.Message):
    __slots__ = ("positions", "market_value", "cost_basis", "realized_gain", "position_count", "events_applied")
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    MARKET_VALUE_FIELD_NUMBER: _ClassVar[int]
    COST_BASIS_FIELD_NUMBER: _ClassVar[int]
    REALIZED_GAIN_FIELD_NUMBER: _ClassVar[int]
    POSITION_COUNT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[_common_pb2.Position]
    market_value: str
    cost_basis: str
    realized_gain: str
    position_count: int
    events_applied: int
    def __init__(self, positions: _Optional[_Iterable[_Union[_common_pb2.Position, _Mapping]]] = ..., market_value: _Optional[str] = ..., cost_basis: _Optional[str] = ..., realized_gain: _Optional[str] = ..., position_count: _Optional[int] = ..., events_applied: _Optional[int] = ...) -> None: ...

class DiffPositionRequest(_message.Message):
    __slots__ = ("position_id", "from_version", "to_version")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    from_version: int
    to_version: int
    def __init__(self, position_id: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ...) -> None: ...

class FieldChange(_message.Message):
    __slots__ = ("field", "before", "after")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    field: str
    before: str
    after: str
    def __init__(self, field: _Optional[str] = ..., before: _Optional[str] = ..., after: _Optional[str] = ...) -> None: ...

class LotChange(_message.Message):
    __slots__ = ("lot_id", "change", "quantity_before", "quantity_after", "cost_basis_before", "cost_basis_after")
    LOT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_BEFORE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_AFTER_FIELD_NUMBER: _ClassVar[int]
    COST_BASIS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    COST_BASIS_AFTER_FIELD_NUMBER: _ClassVar[int]
    lot_id: str
    change: str
    quantity_before: str
    quantity_after: str
    cost_basis_before: str
    cost_basis_after: str
    def __init__(self, lot_id: _Optional[str] = ..., change: _Optional[str] = ..., quantity_before: _Optional[str] = ..., quantity_after: _Optional[str] = ..., cost_basis_before: _Optional[str] = ..., cost_basis_after: _Optional[str] = ...) -> None: ...

class DiffPositionResponse(_message.Message):
    __slots__ = ("from_version", "to_version", "changes", "lots", "events")
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    LOTS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    from_version: int
    to_version: int
    changes: _containers.RepeatedCompositeFieldContainer[FieldChange]
    lots: _containers.RepeatedCompositeFieldContainer[LotChange]
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.Event]
    def __init__(self, from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., changes: _Optional[_Iterable[_Union[FieldChange, _Mapping]]] = ..., lots: _Optional[_Iterable[_Union[LotChange, _Mapping]]] = ..., events: _Optional[_Iterable[_Union[_events_pb2.Event, _Mapping]]] = ...) -> None: ...

class ListQuarantinedRecordsRequest(_message.Message):
    __slots__ = ("limit", "quality_only", "include_replayed")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_ONLY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    limit: int
    quality_only: bool
    include_replayed: bool
    def __init__(self, limit: _Optional[int] = ..., quality_only: _Optional[bool] = ..., include_replayed: _Optional[bool] = ...) -> None: ...

class QuarantinedRecord(_message.Message):
    __slots__ = ("topic", "partition", "offset", "event_id", "event_type", "aggregate_id", "client_id", "reason", "failed_rules", "quarantined_at", "replayed_at")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FAILED_RULES_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_AT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_AT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    offset: int
    event_id: str
    event_type: str
    aggregate_id: str
    client_id: str
    reason: str
    failed_rules: _containers.RepeatedScalarFieldContainer[str]
    quarantined_at: _timestamp_pb2.Timestamp
    replayed_at: _timestamp_pb2.Timestamp
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., aggregate_id: _Optional[str] = ..., client_id: _Optional[str] = ..., reason: _Optional[str] = ..., failed_rules: _Optional[_Iterable[str]] = ..., quarantined_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., replayed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListQuarantinedRecordsResponse(_message.Message):
    __slots__ = ("records", "open_count")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    OPEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[QuarantinedRecord]
    open_count: int
    def __init__(self, records: _Optional[_Iterable[_Union[QuarantinedRecord, _Mapping]]] = ..., open_count: _Optional[int] = ...) -> None: ...
