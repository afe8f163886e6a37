# shellcheck shell=bash
# Sourced by infra/local/stack.sh (the entry: lifecycle, dispatch).
# Installing what the stack needs: Debian packages, the Kafka jars and the Apicurio distribution (Maven).

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
