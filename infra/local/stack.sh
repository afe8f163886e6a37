#!/usr/bin/env bash
# The real local stack without Docker: Kafka (KRaft), Apicurio Registry, Redis, ClickHouse.
#
#   stack.sh install              install / download what is missing (apt, Maven), nothing is started
#   stack.sh up [service]         start everything (or one service) and wait until healthy; reuses healthy ones
#   stack.sh down [service]       stop (SIGTERM, then SIGKILL after $STACK_STOP_TIMEOUT s)
#   stack.sh kill <service>       SIGKILL at once: a crash, for fault tests (`up` starts it again)
#   stack.sh status               one line per service: running/stopped, pid, port, healthy
#   stack.sh logs [service]       last lines of the logs (all services, or one)
#   stack.sh purge                down, then delete data and logs (keeps the download cache)
#
# Services: kafka, registry, redis, clickhouse; redis-cluster (3 masters) only with `up redis-cluster` or
# TIERSTREAM_REDIS_CLUSTER=1. Defaults live in infra/local/env.sh.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$SCRIPT_DIR/env.sh"

SERVICES=(redis clickhouse kafka registry)
# Optional: a Redis Cluster of 3 masters next to the single Redis (the Cluster-mode e2e test runs on it). Plain `up`
# starts it only when TIERSTREAM_REDIS_CLUSTER=1; `down`, `status`, `logs` and `purge` always cover it.
OPTIONAL_SERVICES=(redis-cluster)
ALL_SERVICES=("${SERVICES[@]}" "${OPTIONAL_SERVICES[@]}")
IFS=',' read -r -a REDIS_CLUSTER_PORT_LIST <<<"${REDIS_CLUSTER_PORTS// /}"
DATA_DIR="$TIERSTREAM_STACK_DIR/data"
LOG_DIR="$TIERSTREAM_STACK_DIR/logs"
PID_DIR="$TIERSTREAM_STACK_DIR/pids"
CONF_DIR="$TIERSTREAM_STACK_DIR/conf"
KAFKA_LIBS="$TIERSTREAM_STACK_CACHE_DIR/kafka-libs-$KAFKA_VERSION"
APICURIO_HOME="$TIERSTREAM_STACK_CACHE_DIR/apicurio-registry-$APICURIO_VERSION"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[stack] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# ---------------------------------------------------------------- install

APT_UPDATED=0
apt_install() {
  # Keeps package post-install scripts from starting system services (a system redis on 6379,
  # a system ClickHouse on 8123/9000): only our own instances should run.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  # `apt-get update` only when the package lists are too old to know a package (once per run).
  if ! apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; then
    if ((APT_UPDATED == 0)); then
      log "apt-get update"
      apt-get update -q >/dev/null
      APT_UPDATED=1
    fi
    apt-get install -y -q --no-install-recommends "$@" >/dev/null
  fi
  if ((created_policy)); then rm -f "$policy"; fi
}

install_packages() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v curl >/dev/null || missing+=(curl)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v redis-cli >/dev/null || missing+=(redis-tools)
  command -v clickhouse-server >/dev/null || missing+=(clickhouse-server)
  command -v clickhouse-client >/dev/null || missing+=(clickhouse-client)
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

install_kafka() {
  [[ -f $KAFKA_LIBS/.complete ]] && return 0
  log "resolving Kafka $KAFKA_VERSION jars with Maven into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  mvn -B -q -Dstyle.color=never -f "$SCRIPT_DIR/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >"$LOG_DIR/install.log" 2>&1 ||
    { tail -n 30 "$LOG_DIR/install.log" >&2; die "Maven could not resolve Kafka $KAFKA_VERSION"; }
  [[ -f $KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing in $KAFKA_LIBS"
  touch "$KAFKA_LIBS/.complete"
}

install_apicurio() {
  [[ -f $APICURIO_HOME/.complete ]] && return 0
  local artifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
  local dl="$TIERSTREAM_STACK_CACHE_DIR/downloads"
  log "fetching $artifact with Maven"
  mkdir -p "$dl"
  mvn -B -q -Dstyle.color=never dependency:copy -Dartifact="$artifact" -DoutputDirectory="$dl" >"$LOG_DIR/install.log" 2>&1 ||
    { tail -n 30 "$LOG_DIR/install.log" >&2; die "Maven could not fetch $artifact"; }
  rm -rf "$APICURIO_HOME"
  mkdir -p "$APICURIO_HOME"
  tar -xzf "$dl/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$APICURIO_HOME"
  rm -f "$dl/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" # ~/.m2 keeps the download
  apicurio_jar >/dev/null || die "no runnable jar in the Apicurio $APICURIO_VERSION distribution"
  touch "$APICURIO_HOME/.complete"
}

# The distribution is a Quarkus fast-jar (quarkus-run.jar) in newer versions, a legacy *-runner.jar in 3.0.x.
apicurio_jar() {
  if [[ -f $APICURIO_HOME/quarkus-run.jar ]]; then
    echo "$APICURIO_HOME/quarkus-run.jar"
    return 0
  fi
  local runner
  runner=$(compgen -G "$APICURIO_HOME/*-runner.jar" | head -n1 || true)
  [[ -n $runner ]] && echo "$runner"
}

cmd_install() {
  mkdir -p "$TIERSTREAM_STACK_CACHE_DIR" "$DATA_DIR" "$LOG_DIR" "$PID_DIR" "$CONF_DIR"
  install_packages
  install_kafka
  install_apicurio
}

# ---------------------------------------------------------------- per-service facts

port_of() {
  case $1 in
  kafka) echo "$KAFKA_PORT" ;;
  registry) echo "$APICURIO_PORT" ;;
  redis) echo "$REDIS_PORT" ;;
  clickhouse) echo "$CLICKHOUSE_HTTP_PORT" ;;
  redis-cluster) echo "$REDIS_CLUSTER_PORTS" ;;
  redis-cluster-*) echo "${1#redis-cluster-}" ;;
  esac
}

# The cluster's nodes are sub-services named redis-cluster-<port>, each with its own pid file, config, data and log.
cluster_nodes() {
  local port
  for port in "${REDIS_CLUSTER_PORT_LIST[@]}"; do echo "redis-cluster-$port"; done
}

log_of() {
  case $1 in
  kafka) echo "$LOG_DIR/kafka/server.log" ;;
  registry) echo "$LOG_DIR/registry.log" ;;
  redis) echo "$LOG_DIR/redis.log" ;;
  clickhouse) echo "$LOG_DIR/clickhouse/clickhouse-server.log" ;;
  redis-cluster-*) echo "$LOG_DIR/redis-cluster/${1#redis-cluster-}.log" ;;
  esac
}

# Every log file worth showing for a service (the cluster: each node's log and the output of the create step).
log_files_of() {
  local node
  case $1 in
  redis-cluster)
    for node in $(cluster_nodes); do log_of "$node"; done
    echo "$LOG_DIR/redis-cluster/create.log"
    ;;
  *)
    log_of "$1"
    console_log_of "$1"
    ;;
  esac
}

# Extra log to show on failure (stdout/stderr of processes that also write a log file of their own).
console_log_of() {
  case $1 in
  kafka) echo "$LOG_DIR/kafka.out" ;;
  clickhouse) echo "$LOG_DIR/clickhouse/clickhouse-server.err.log" ;;
  *) echo "" ;;
  esac
}

pid_file_of() { echo "$PID_DIR/$1.pid"; }

# A string that only our own instance of the service has in its command line (guards against pid reuse).
marker_of() {
  case $1 in
  kafka) echo "$CONF_DIR/kafka/server.properties" ;;
  registry) echo "-Dtierstream.stack.dir=$TIERSTREAM_STACK_DIR" ;;
  redis) echo "$CONF_DIR/redis/redis.conf" ;; # in the process title, see proc-title-template
  redis-cluster-*) echo "$CONF_DIR/redis-cluster/${1#redis-cluster-}/redis.conf" ;;
  clickhouse) echo "$CONF_DIR/clickhouse/config.xml" ;;
  esac
}

# True while the process exists and is not a zombie (kill -0 succeeds on a zombie that nobody has reaped yet).
alive() {
  local state
  state=$({ awk '{print $3}' "/proc/$1/stat"; } 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

cmdline_of() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null || true; }

# Prints the pid of our running instance, or nothing (and removes a stale pid file).
running_pid() {
  local svc=$1 file pid
  file=$(pid_file_of "$svc")
  [[ -f $file ]] || return 0
  pid=$(tr -dc '0-9' <"$file")
  if [[ -n $pid ]] && alive "$pid" && [[ $(cmdline_of "$pid") == *"$(marker_of "$svc")"* ]]; then
    echo "$pid"
  else
    rm -f "$file"
  fi
}

# Pids of our instances that lost their pid file (found by the marker, which contains our own paths/port).
orphan_pids() {
  local svc=$1 marker p
  marker=$(marker_of "$svc")
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p == "$$" ]] && continue
    [[ $(cmdline_of "$p") == *"$marker"* ]] && alive "$p" && echo "$p"
  done
  return 0
}

port_open() { (exec 3<>"/dev/tcp/$STACK_HOST/$1") 2>/dev/null; }

healthy() {
  local svc=$1
  case $svc in
  kafka)
    port_open "$KAFKA_PORT" || return 1
    if [[ -d $TIERSTREAM_REPO_DIR/node_modules/kafkajs ]]; then
      node "$SCRIPT_DIR/kafka-health.cjs" "$STACK_HOST:$KAFKA_PORT" >/dev/null 2>&1
    fi
    ;;
  registry) curl -fsS -o /dev/null --max-time 3 "http://$STACK_HOST:$APICURIO_PORT/apis/ccompat/v7/subjects" 2>/dev/null ;;
  redis) [[ $(redis-cli -h "$STACK_HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] ;;
  clickhouse) [[ $(curl -fsS --max-time 3 "http://$STACK_HOST:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null) == Ok* ]] ;;
  redis-cluster-*) [[ $(redis-cli -h "$STACK_HOST" -p "$(port_of "$svc")" ping 2>/dev/null) == PONG ]] ;;
  redis-cluster)
    # Every node answers and sees the whole cluster (all 16384 slots served: cluster_state:ok).
    local port
    for port in "${REDIS_CLUSTER_PORT_LIST[@]}"; do
      [[ $(redis-cli -h "$STACK_HOST" -p "$port" cluster info 2>/dev/null) == *cluster_state:ok* ]] || return 1
    done
    ;;
  esac
}

# Pids of the service's running processes (of every node for the cluster), one per line.
service_pids() {
  local node
  case $1 in
  redis-cluster) for node in $(cluster_nodes); do running_pid "$node"; done ;;
  *) running_pid "$1" ;;
  esac
}

service_running() { [[ -n $(service_pids "$1") ]]; }

# ---------------------------------------------------------------- configs

write_kafka_config() {
  mkdir -p "$CONF_DIR/kafka" "$DATA_DIR/kafka" "$LOG_DIR/kafka"
  cat >"$CONF_DIR/kafka/server.properties" <<EOF
# Generated by infra/local/stack.sh: one KRaft node that is broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$STACK_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$STACK_HOST:$KAFKA_PORT,CONTROLLER://$STACK_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$STACK_HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA_DIR/kafka
num.partitions=$KAFKA_NUM_PARTITIONS
default.replication.factor=1
min.insync.replicas=1
# One node: internal topics must have one replica, or consumer groups never find their coordinator.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Topics are code (infra/kafka, tests create their own): a typo must not create a topic.
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=268435456
num.network.threads=2
num.io.threads=4
EOF
  cat >"$CONF_DIR/kafka/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOG_DIR/kafka/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
log4j.logger.kafka.log=WARN
EOF
  cat >"$CONF_DIR/kafka/tools-log4j.properties" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

# Settings of every Redis we run (the single one and each Cluster node): persistence, memory, process title.
redis_common_config() {
  cat <<'EOF'
appendonly yes
# fsync before replying: an acknowledged write survives a crash of the machine, not only of the process. The
# aggregator commits Kafka offsets once Redis has acknowledged a batch; with everysec a power loss or kernel crash
# could lose ~1-2 s of acknowledged aggregates whose offsets were already committed (events silently lost). Redis
# fsyncs once per event-loop pass for all clients, so pipelined batches share it (docs/design-decisions.md §11).
appendfsync always
save ""
# A customer's aggregate hash holds a day bucket per active day (up to 400 days of web, order and ticket buckets):
# keep it a listpack up to 1024 fields (default 512). Measured on a 600-field hash: 16 KB as a listpack vs 51 KB as a
# hashtable; HMGET of 8 fields 14 us vs 0.5 us (the aggregator's script reads only a few fields per call).
hash-max-listpack-entries 1024
# The config path in the process title tells our instance from any other redis (stack.sh finds it by that).
proc-title-template "{title} {listen-addr} {server-mode} {config-file}"
EOF
}

write_redis_config() {
  mkdir -p "$CONF_DIR/redis" "$DATA_DIR/redis"
  cat >"$CONF_DIR/redis/redis.conf" <<EOF
# Generated by infra/local/stack.sh
bind $STACK_HOST
port $REDIS_PORT
protected-mode no
daemonize yes
pidfile $(pid_file_of redis)
logfile $(log_of redis)
dir $DATA_DIR/redis
$(redis_common_config)
EOF
}

write_redis_cluster_node_config() {
  local node=$1 port
  port=$(port_of "$node")
  mkdir -p "$CONF_DIR/redis-cluster/$port" "$DATA_DIR/redis-cluster/$port" "$LOG_DIR/redis-cluster"
  cat >"$CONF_DIR/redis-cluster/$port/redis.conf" <<EOF
# Generated by infra/local/stack.sh: one master of the local Redis Cluster (cluster bus on port $((port + 10000))).
bind $STACK_HOST
port $port
protected-mode no
daemonize yes
pidfile $(pid_file_of "$node")
logfile $(log_of "$node")
dir $DATA_DIR/redis-cluster/$port
cluster-enabled yes
# The node's id and the slot map, next to its data: a restarted node rejoins the same cluster.
cluster-config-file nodes.conf
cluster-node-timeout 5000
$(redis_common_config)
EOF
}

write_clickhouse_config() {
  mkdir -p "$CONF_DIR/clickhouse" "$DATA_DIR/clickhouse/tmp" "$DATA_DIR/clickhouse/user_files" \
    "$DATA_DIR/clickhouse/format_schemas" "$LOG_DIR/clickhouse"
  # Keys accepted by the old Debian server (18.16) and still valid on current ones.
  cat >"$CONF_DIR/clickhouse/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by infra/local/stack.sh -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$LOG_DIR/clickhouse/clickhouse-server.log</log>
        <errorlog>$LOG_DIR/clickhouse/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>$STACK_HOST</listen_host>
    <http_port>$CLICKHOUSE_HTTP_PORT</http_port>
    <tcp_port>$CLICKHOUSE_TCP_PORT</tcp_port>
    <interserver_http_port>$CLICKHOUSE_INTERSERVER_PORT</interserver_http_port>
    <interserver_http_host>$STACK_HOST</interserver_http_host>
    <path>$DATA_DIR/clickhouse/</path>
    <tmp_path>$DATA_DIR/clickhouse/tmp/</tmp_path>
    <user_files_path>$DATA_DIR/clickhouse/user_files/</user_files_path>
    <format_schema_path>$DATA_DIR/clickhouse/format_schemas/</format_schema_path>
    <users_config>$CONF_DIR/clickhouse/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>536870912</mark_cache_size>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <partition_by>toYYYYMM(event_date)</partition_by>
        <flush_interval_milliseconds>7500</flush_interval_milliseconds>
    </query_log>
</yandex>
EOF
  cat >"$CONF_DIR/clickhouse/users.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by infra/local/stack.sh: user default, no password, loopback only. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

# ---------------------------------------------------------------- start

# Runs a command in its own session, in the background, and records its pid.
# `exec setsid` in a background subshell keeps the pid (no fork), and the new session keeps the
# service alive when the calling terminal or job goes away.
spawn() {
  local svc=$1 out=$2
  shift 2
  (exec setsid "$@" >>"$out" 2>&1 </dev/null) &
  echo $! >"$(pid_file_of "$svc")"
}

start_kafka() {
  write_kafka_config
  local cp="$KAFKA_LIBS/*"
  if [[ ! -f $DATA_DIR/kafka/meta.properties ]]; then
    local cluster_id
    cluster_id=$(java -cp "$cp" -Dlog4j.configuration="file:$CONF_DIR/kafka/tools-log4j.properties" \
      kafka.tools.StorageTool random-uuid)
    log "kafka: formatting storage (cluster id $cluster_id)"
    java -cp "$cp" -Dlog4j.configuration="file:$CONF_DIR/kafka/tools-log4j.properties" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$CONF_DIR/kafka/server.properties" >>"$LOG_DIR/kafka.out" 2>&1 ||
      die "kafka storage format failed, see $LOG_DIR/kafka.out"
  fi
  spawn kafka "$LOG_DIR/kafka.out" java "-Xmx$KAFKA_HEAP" -Xms256m -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$CONF_DIR/kafka/log4j.properties" -Dkafka.logs.dir="$LOG_DIR/kafka" \
    -cp "$cp" kafka.Kafka "$CONF_DIR/kafka/server.properties"
}

start_registry() {
  local jar
  jar=$(apicurio_jar) || die "Apicurio not installed: run stack.sh install"
  mkdir -p "$DATA_DIR/registry"
  # Schemas persist in an H2 file next to Kafka's data, so schema ids in retained records stay resolvable
  # across restarts. The global BACKWARD rule makes the ccompat API refuse incompatible versions.
  spawn registry "$(log_of registry)" java "-Xmx$APICURIO_HEAP" -XX:+UseSerialGC \
    "-Dtierstream.stack.dir=$TIERSTREAM_STACK_DIR" \
    "-Dquarkus.http.host=$STACK_HOST" "-Dquarkus.http.port=$APICURIO_PORT" \
    "-Dquarkus.management.host=$STACK_HOST" "-Dquarkus.management.port=$APICURIO_MANAGEMENT_PORT" \
    "-Dapicurio.rules.global.compatibility=$APICURIO_COMPATIBILITY" \
    "-Dapicurio.datasource.url=jdbc:h2:file:$DATA_DIR/registry/registry;DB_CLOSE_ON_EXIT=FALSE" \
    "-Dapicurio.storage.snapshot.location=$DATA_DIR/registry" "-Dapicurio.import.work-dir=$DATA_DIR/registry" \
    -Dquarkus.otel.sdk.disabled=true \
    -jar "$jar"
}

start_redis() {
  write_redis_config
  redis-server "$CONF_DIR/redis/redis.conf" >>"$LOG_DIR/redis.out" 2>&1 || true
  # daemonize writes the pid file a moment after the parent returns.
  local i
  for i in $(seq 1 50); do
    [[ -s $(pid_file_of redis) ]] && return 0
    sleep 0.1
  done
}

start_redis_cluster_node() {
  local node=$1
  write_redis_cluster_node_config "$node"
  redis-server "$(marker_of "$node")" >>"$LOG_DIR/redis-cluster/redis.out" 2>&1 || true
  local i
  for i in $(seq 1 50); do
    [[ -s $(pid_file_of "$node") ]] && return 0
    sleep 0.1
  done
}

# Starts the nodes that do not run and waits until each answers; creates the cluster once, when no node serves a
# slot yet (fresh data dirs). Restarted nodes rejoin by themselves from their nodes.conf.
start_redis_cluster() {
  local node port n assigned=0 seeds=() deadline=$((SECONDS + STACK_START_TIMEOUT))
  ((${#REDIS_CLUSTER_PORT_LIST[@]} >= 3)) ||
    die "redis-cluster: REDIS_CLUSTER_PORTS needs at least 3 ports for 3 masters (got '$REDIS_CLUSTER_PORTS')"
  mkdir -p "$LOG_DIR/redis-cluster"
  for node in $(cluster_nodes); do ensure_started "$node"; done
  for node in $(cluster_nodes); do
    until healthy "$node"; do
      [[ -n $(running_pid "$node") ]] || {
        print_failure "$node"
        die "$node: process exited during start"
      }
      ((SECONDS < deadline)) || {
        print_failure "$node"
        die "$node: no PONG within ${STACK_START_TIMEOUT}s"
      }
      sleep 0.2
    done
  done
  for port in "${REDIS_CLUSTER_PORT_LIST[@]}"; do
    seeds+=("$STACK_HOST:$port")
    n=$(redis-cli -h "$STACK_HOST" -p "$port" cluster info | tr -d '\r' | sed -n 's/^cluster_slots_assigned://p')
    assigned=$((assigned + ${n:-0}))
  done
  if ((assigned == 0)); then
    log "redis-cluster: creating the cluster (${#seeds[@]} masters, no replicas)"
    redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes >>"$LOG_DIR/redis-cluster/create.log" 2>&1 || {
      tail -n 30 "$LOG_DIR/redis-cluster/create.log" >&2
      die "redis-cluster: redis-cli --cluster create failed"
    }
  fi
}

start_clickhouse() {
  write_clickhouse_config
  spawn clickhouse "$LOG_DIR/clickhouse.out" clickhouse-server --config-file="$CONF_DIR/clickhouse/config.xml"
}

# Starts the service unless our instance already runs. Refuses when a foreign process holds the port.
ensure_started() {
  local svc=$1 pid port
  if [[ $svc == redis-cluster ]]; then
    if healthy redis-cluster; then
      log "redis-cluster: already running (ports $REDIS_CLUSTER_PORTS)"
    else
      log "redis-cluster: starting on $STACK_HOST ports $REDIS_CLUSTER_PORTS"
      start_redis_cluster
    fi
    return 0
  fi
  pid=$(running_pid "$svc")
  if [[ -n $pid ]]; then
    log "$svc: already running (pid $pid)"
    return 0
  fi
  local orphans=()
  mapfile -t orphans < <(orphan_pids "$svc")
  if ((${#orphans[@]} == 1)); then
    # Our own instance whose pid file was lost: adopt it rather than restart it.
    echo "${orphans[0]}" >"$(pid_file_of "$svc")"
    log "$svc: already running (pid ${orphans[0]}, pid file restored)"
    return 0
  elif ((${#orphans[@]} > 1)); then
    log "$svc: stopping ${#orphans[@]} instances without pid file (pids ${orphans[*]})"
    stop_pids "$svc" "${orphans[@]}"
  fi
  port=$(port_of "$svc")
  if port_open "$port"; then
    die "$svc: port $STACK_HOST:$port is taken by a process that is not ours (set another port in the environment, see infra/local/env.sh)"
  fi
  if [[ $svc == kafka ]] && port_open "$KAFKA_CONTROLLER_PORT"; then
    die "kafka: controller port $STACK_HOST:$KAFKA_CONTROLLER_PORT is taken by a process that is not ours"
  fi
  if [[ $svc == redis-cluster-* ]] && port_open "$((port + 10000))"; then
    die "$svc: cluster bus port $STACK_HOST:$((port + 10000)) is taken by a process that is not ours"
  fi
  log "$svc: starting on $STACK_HOST:$port"
  case $svc in
  redis-cluster-*) start_redis_cluster_node "$svc" ;;
  *) "start_$svc" ;;
  esac
}

print_failure() {
  local svc=$1 f
  log "$svc: did not become healthy within ${STACK_START_TIMEOUT}s"
  for f in $(log_files_of "$svc"); do
    [[ -n $f && -s $f ]] || continue
    echo "----- last 30 lines of $f -----" >&2
    tail -n 30 "$f" >&2
  done
}

wait_healthy() {
  local svc=$1 deadline=$((SECONDS + STACK_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if healthy "$svc"; then
      log "$svc: healthy ($STACK_HOST:$(port_of "$svc"))"
      return 0
    fi
    if ! service_running "$svc"; then
      log "$svc: process exited during start"
      print_failure "$svc"
      return 1
    fi
    sleep 0.5
  done
  print_failure "$svc"
  return 1
}

valid_service() {
  local s
  for s in "${ALL_SERVICES[@]}"; do [[ $s == "$1" ]] && return 0; done
  die "unknown service '$1' (one of: ${ALL_SERVICES[*]})"
}

cluster_enabled() { [[ ${TIERSTREAM_REDIS_CLUSTER:-0} == 1 ]]; }

# What plain `up` starts: the four services, and the Redis Cluster when TIERSTREAM_REDIS_CLUSTER=1.
default_services() {
  printf '%s\n' "${SERVICES[@]}"
  if cluster_enabled; then echo redis-cluster; fi
}

cmd_up() {
  local targets=("$@") svc failed=()
  ((${#targets[@]})) || mapfile -t targets < <(default_services)
  for svc in "${targets[@]}"; do valid_service "$svc"; done
  mkdir -p "$TIERSTREAM_STACK_CACHE_DIR"
  install_packages
  for svc in "${targets[@]}"; do
    case $svc in
    kafka) install_kafka ;;
    registry) install_apicurio ;;
    esac
  done
  # Start everything first, then wait: the JVMs boot in parallel.
  for svc in "${targets[@]}"; do ensure_started "$svc"; done
  for svc in "${targets[@]}"; do wait_healthy "$svc" || failed+=("$svc"); done
  if ((${#failed[@]})); then
    die "not healthy: ${failed[*]} (logs: bash infra/local/stack.sh logs <service>)"
  fi
  log "stack is up (state in $TIERSTREAM_STACK_DIR)"
}

# ---------------------------------------------------------------- stop

stop_pids() {
  local svc=$1
  shift
  local pids=("$@") p deadline=$((SECONDS + STACK_STOP_TIMEOUT)) alive
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  while ((SECONDS < deadline)); do
    alive=0
    for p in "${pids[@]}"; do alive "$p" && alive=1; done
    ((alive)) || return 0
    sleep 0.2
  done
  log "$svc: still running ${STACK_STOP_TIMEOUT}s after SIGTERM, sending SIGKILL"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  sleep 0.2
}

# stop_service <service> [kill]: SIGTERM (then SIGKILL after the timeout), or with `kill` SIGKILL at once.
stop_service() {
  local svc=$1 mode=${2:-term} pid pids node
  if [[ $svc == redis-cluster ]]; then
    # All nodes at once (each flushes its AOF on SIGTERM); their nodes.conf keeps the cluster for the next `up`.
    pids=$(for node in $(cluster_nodes); do
      running_pid "$node"
      orphan_pids "$node"
    done | sort -u | tr '\n' ' ')
  else
    pid=$(running_pid "$svc")
    pids=$( (
      [[ -n $pid ]] && echo "$pid"
      orphan_pids "$svc"
    ) | sort -u | tr '\n' ' ')
  fi
  if [[ -z ${pids// /} ]]; then
    log "$svc: not running"
  else
    if [[ $mode == kill ]]; then
      log "$svc: killing (SIGKILL, pid $pids)"
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      sleep 0.2
    else
      log "$svc: stopping (pid $pids)"
      # shellcheck disable=SC2086
      stop_pids "$svc" $pids
    fi
  fi
  rm -f "$(pid_file_of "$svc")"
  if [[ $svc == redis-cluster ]]; then
    for node in $(cluster_nodes); do rm -f "$(pid_file_of "$node")"; done
  fi
}

cmd_down() {
  local targets=("$@") svc i
  if ((${#targets[@]} == 0)); then
    # Reverse start order: clients of other services stop first.
    for ((i = ${#ALL_SERVICES[@]} - 1; i >= 0; i--)); do targets+=("${ALL_SERVICES[i]}"); done
  fi
  for svc in "${targets[@]}"; do valid_service "$svc"; done
  for svc in "${targets[@]}"; do stop_service "$svc"; done
}

cmd_kill() {
  (($# == 1)) || die "usage: stack.sh kill <service>"
  valid_service "$1"
  stop_service "$1" kill
}

# ---------------------------------------------------------------- status, logs

cmd_status() {
  local svc pid state health all_ok=0 services
  # The Redis Cluster is listed when it is enabled or runs; only then does its health count for the exit code.
  mapfile -t services < <(default_services)
  if ! cluster_enabled && service_running redis-cluster; then services+=(redis-cluster); fi
  printf '%-13s %-8s %-8s %-6s %s\n' SERVICE STATE PID PORT HEALTHY
  for svc in "${services[@]}"; do
    pid=$(service_pids "$svc" | paste -sd, -)
    if [[ -n $pid ]]; then state=running; else state=stopped pid=-; fi
    if healthy "$svc"; then health=yes; else health=no all_ok=1; fi
    printf '%-13s %-8s %-8s %-6s %s\n' "$svc" "$state" "$pid" "$(port_of "$svc")" "$health"
  done
  return "$all_ok"
}

cmd_logs() {
  local targets=("$@") svc f lines="${STACK_LOG_LINES:-50}"
  ((${#targets[@]})) || targets=("${ALL_SERVICES[@]}")
  for svc in "${targets[@]}"; do
    valid_service "$svc"
    for f in $(log_files_of "$svc"); do
      [[ -n $f && -f $f ]] || continue
      echo "===== $svc: $f ====="
      tail -n "$lines" "$f"
    done
  done
}

cmd_purge() {
  cmd_down
  rm -rf "$DATA_DIR" "$LOG_DIR" "$PID_DIR" "$CONF_DIR"
  log "deleted data and logs under $TIERSTREAM_STACK_DIR (download cache kept)"
}

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  mkdir -p "$DATA_DIR" "$LOG_DIR" "$PID_DIR" "$CONF_DIR"
  case $cmd in
  install) cmd_install ;;
  up | start) cmd_up "$@" ;;
  down | stop) cmd_down "$@" ;;
  kill) cmd_kill "$@" ;;
  status) cmd_status ;;
  logs) cmd_logs "$@" ;;
  purge) cmd_purge ;;
  -h | --help | help) usage ;;
  *)
    usage
    exit 2
    ;;
  esac
}

main "$@"
