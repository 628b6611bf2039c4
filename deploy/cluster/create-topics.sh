#!/usr/bin/env bash
# Creates holdingsd's topics on a real Kafka cluster (idempotent): create-topics.sh BOOTSTRAP [REPLICATION]
# The reasoning of each setting is in topics.md.
set -euo pipefail
bootstrap=${1:?bootstrap servers}; replication=${2:-3}
kafka_topics=${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}
min_isr=$(( replication > 1 ? 2 : 1 ))
create() { # name partitions retention.ms
  "$kafka_topics" --bootstrap-server "$bootstrap" --create --if-not-exists --topic "$1" --partitions "$2" \
    --replication-factor "$replication" --config min.insync.replicas="$min_isr" --config retention.ms="$3" \
    --config cleanup.policy=delete --config unclean.leader.election.enable=false
}
create holdings.positions 16 -1              # the log of record: kept forever
create holdings.dead-letters 4 2592000000    # 30 days to inspect and replay
create holdings.agent-alerts 4 2592000000    # 30 days
create holdings.lineage 4 604800000          # 7 days: OpenLineage collectors read it promptly
