#!/usr/bin/env bash
# A streaming replica of the local PostgreSQL server, for DATABASE_REPLICA_URL.
#
#   deploy/replica.sh          create it (or, when it exists, make sure it runs)
#   deploy/replica.sh remove   stop and delete it
#
# Debian's cluster tools: a cluster named "replica" of the installed major
# version on REPLICA_PORT (5433), filled by pg_basebackup -R from the primary
# (PRIMARY_HOST:PRIMARY_PORT) so that it starts as a hot standby streaming the
# primary's WAL. Runs as root (it uses su postgres) or as postgres.
set -euo pipefail

PRIMARY_HOST="${PRIMARY_HOST:-127.0.0.1}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
REPLICA_PORT="${REPLICA_PORT:-5433}"
CLUSTER="${REPLICA_CLUSTER:-replica}"
VERSION="${PG_VERSION:-$(pg_lsclusters -h | awk -v p="$PRIMARY_PORT" '$3 == p {print $1; exit}')}"
if [ -z "$VERSION" ]; then
  VERSION="$(ls /etc/postgresql | sort -n | tail -1)"
fi

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi
}

cluster_exists() {
  pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c {found=1} END {exit !found}'
}

if [ "${1:-}" = "remove" ]; then
  if cluster_exists; then
    pg_dropcluster --stop "$VERSION" "$CLUSTER"
    echo "Replica $VERSION/$CLUSTER removed."
  else
    echo "No replica $VERSION/$CLUSTER to remove."
  fi
  exit 0
fi

wait_ready() {
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$REPLICA_PORT" && return 0
    sleep 1
  done
  echo "The replica on port $REPLICA_PORT did not become ready." >&2
  return 1
}

cluster_data() {
  pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c {print $6}'
}

# A cluster left half-made (an interrupted run) is not a standby: start over.
if cluster_exists && [ ! -f "$(cluster_data)/standby.signal" ]; then
  pg_dropcluster --stop "$VERSION" "$CLUSTER"
fi

streaming() {
  for _ in $(seq 1 15); do
    status="$(as_postgres psql -h 127.0.0.1 -p "$REPLICA_PORT" -Atc \
      'SELECT status FROM pg_stat_wal_receiver' 2>/dev/null || true)"
    [ "$status" = streaming ] && return 0
    sleep 1
  done
  return 1
}

if cluster_exists; then
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$CLUSTER" start 2>/dev/null || true
  # A replica stopped for long may need WAL the primary has recycled: it runs
  # but never catches up. Such a one is built again.
  if wait_ready && streaming; then
    echo "Replica $VERSION/$CLUSTER running on port $REPLICA_PORT."
    exit 0
  fi
  echo "Replica $VERSION/$CLUSTER is not streaming: building it again."
  pg_dropcluster --stop "$VERSION" "$CLUSTER"
fi

# The primary must accept replication connections from this machine; Debian's
# default pg_hba.conf only lets local "all" databases in, which excludes them.
PRIMARY_HBA="$(as_postgres psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -Atc 'SHOW hba_file')"
if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32' "$PRIMARY_HBA"; then
  echo "host replication all 127.0.0.1/32 trust  # deploy/replica.sh" >>"$PRIMARY_HBA"
  as_postgres psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -qc 'SELECT pg_reload_conf()' >/dev/null
fi

pg_createcluster "$VERSION" "$CLUSTER" -p "$REPLICA_PORT" >/dev/null
DATA="$(cluster_data)"
# The new cluster's files are replaced by the primary's; its configuration
# (port, paths) lives in /etc/postgresql and stays.
find "$DATA" -mindepth 1 -delete
# Clients authenticate on the replica as they do on the primary.
cp "$PRIMARY_HBA" "/etc/postgresql/$VERSION/$CLUSTER/pg_hba.conf"
as_postgres pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres \
  -D "$DATA" -R -X stream --checkpoint=fast
pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$CLUSTER" start
wait_ready
streaming || { echo "The replica does not stream from the primary." >&2; exit 1; }
echo "Replica $VERSION/$CLUSTER streaming from $PRIMARY_HOST:$PRIMARY_PORT on port $REPLICA_PORT."
echo "DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:$REPLICA_PORT/<database>"
