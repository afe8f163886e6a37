# shellcheck shell=bash
# The one place for the local stack's defaults (ports, paths, versions, limits).
# Sourced by infra/local/stack.sh. Every value can be overridden from the environment.
# The same ports are the defaults of packages/config/src/stack.ts and docker-compose.yml: keep them in step.

TIERSTREAM_REPO_DIR="${TIERSTREAM_REPO_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

# State (data, logs, pids, generated configs) and the unpacked downloads.
TIERSTREAM_STACK_DIR="${TIERSTREAM_STACK_DIR:-$TIERSTREAM_REPO_DIR/.stack}"
TIERSTREAM_STACK_CACHE_DIR="${TIERSTREAM_STACK_CACHE_DIR:-$TIERSTREAM_STACK_DIR/cache}"

# STACK_SECURE=1: the secured stack (docs/security.md), a second stack next to the plain one with its own state dir
# and ports (the SECURE_* variables below; the plain ones are not used): Kafka SASL_SSL, Redis TLS + ACL users,
# ClickHouse HTTPS + a password user, the registry behind basic auth over HTTPS. It shares the download cache.
STACK_SECURE="${STACK_SECURE:-0}"
# Certificates, generated passwords and client.env (the client settings services and tests read): git-ignored.
TIERSTREAM_SECURE_DIR="${TIERSTREAM_SECURE_DIR:-$TIERSTREAM_REPO_DIR/infra/local/.secure}"
if [[ $STACK_SECURE == 1 ]]; then
  TIERSTREAM_STACK_DIR="${SECURE_STACK_DIR:-$TIERSTREAM_REPO_DIR/.secure-stack}"
  KAFKA_PORT="${SECURE_KAFKA_PORT:-29092}"
  KAFKA_CONTROLLER_PORT="${SECURE_KAFKA_CONTROLLER_PORT:-29093}"
  KAFKA_HEAP="${SECURE_KAFKA_HEAP:-512m}"
  # Clients reach the registry through the basic-auth HTTPS proxy on APICURIO_PORT; Apicurio itself listens on
  # APICURIO_BACKEND_PORT, loopback only.
  APICURIO_PORT="${SECURE_APICURIO_PORT:-28081}"
  APICURIO_MANAGEMENT_PORT="${SECURE_APICURIO_MANAGEMENT_PORT:-28082}"
  APICURIO_BACKEND_PORT="${SECURE_APICURIO_BACKEND_PORT:-28083}"
  APICURIO_HEAP="${SECURE_APICURIO_HEAP:-384m}"
  REDIS_PORT="${SECURE_REDIS_PORT:-26379}"
  REDIS_CLUSTER_PORTS="${SECURE_REDIS_CLUSTER_PORTS:-26001,26002,26003}"
  TIERSTREAM_REDIS_CLUSTER="${SECURE_REDIS_CLUSTER:-0}"
  # HTTPS only (no plain HTTP port).
  CLICKHOUSE_HTTP_PORT="${SECURE_CLICKHOUSE_HTTPS_PORT:-28443}"
  CLICKHOUSE_TCP_PORT="${SECURE_CLICKHOUSE_TCP_PORT:-29000}"
  CLICKHOUSE_INTERSERVER_PORT="${SECURE_CLICKHOUSE_INTERSERVER_PORT:-29009}"
fi

# Listen address of every service (loopback only).
STACK_HOST="${STACK_HOST:-127.0.0.1}"

# Kafka (KRaft, one node that is broker and controller).
KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_HEAP="${KAFKA_HEAP:-768m}"
KAFKA_NUM_PARTITIONS="${KAFKA_NUM_PARTITIONS:-3}"

# Apicurio Registry (Confluent-compatible API under /apis/ccompat/v7).
# 3.0.9 is the newest line whose jars run on Java 17 (Debian 12's JDK); 3.1+ / 3.3.x are built for Java 21.
APICURIO_VERSION="${APICURIO_VERSION:-3.0.9}"
APICURIO_PORT="${APICURIO_PORT:-18081}"
APICURIO_MANAGEMENT_PORT="${APICURIO_MANAGEMENT_PORT:-18082}"
APICURIO_HEAP="${APICURIO_HEAP:-512m}"
APICURIO_COMPATIBILITY="${APICURIO_COMPATIBILITY:-BACKWARD}"

# Redis (Debian redis-server, AOF on).
REDIS_PORT="${REDIS_PORT:-16379}"

# Redis Cluster (optional: `stack.sh up redis-cluster`, or TIERSTREAM_REDIS_CLUSTER=1 to start it with plain `up`):
# one master per port, no replicas; each node's cluster bus listens on its port + 10000.
# Clients: REDIS_URL=redis-cluster://127.0.0.1:17001,127.0.0.1:17002,127.0.0.1:17003
REDIS_CLUSTER_PORTS="${REDIS_CLUSTER_PORTS:-17001,17002,17003}"
TIERSTREAM_REDIS_CLUSTER="${TIERSTREAM_REDIS_CLUSTER:-0}"

# ClickHouse (Debian clickhouse-server 18.16), every port moved off the defaults.
CLICKHOUSE_HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-18123}"
CLICKHOUSE_TCP_PORT="${CLICKHOUSE_TCP_PORT:-19000}"
CLICKHOUSE_INTERSERVER_PORT="${CLICKHOUSE_INTERSERVER_PORT:-19009}"

# Seconds `up` waits for each service to become healthy, and `down` waits after SIGTERM before SIGKILL.
STACK_START_TIMEOUT="${STACK_START_TIMEOUT:-120}"
STACK_STOP_TIMEOUT="${STACK_STOP_TIMEOUT:-30}"
