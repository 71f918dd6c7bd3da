#!/usr/bin/env bash
# Point-in-time recovery tried by hand (docs/OPERATIONS.md, "Backups"): a throwaway
# cluster on port 5499 archiving WAL to /tmp/pitr/wal, a base backup, more rows, an
# accidental DELETE, then the base backup restored to the moment before it on port 5498.
# Run as root on a machine with PostgreSQL 15 (Debian paths); leaves nothing running.
set -eux
B=/usr/lib/postgresql/15/bin
R="runuser -u postgres --"
rm -rf /tmp/pitr/{primary,base,restored,wal}; chown postgres /tmp/pitr; install -d -o postgres -m 700 /tmp/pitr/primary /tmp/pitr/restored; install -d -o postgres /tmp/pitr/wal
$R $B/initdb -D /tmp/pitr/primary -U postgres --auth=trust >/dev/null
cat >> /tmp/pitr/primary/postgresql.conf <<CONF
port = 5499
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp/pitr'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f /tmp/pitr/wal/%f && cp %p /tmp/pitr/wal/%f'
CONF
echo "host replication all 127.0.0.1/32 trust" >> /tmp/pitr/primary/pg_hba.conf
$R $B/pg_ctl -D /tmp/pitr/primary -l /tmp/pitr/primary.log -w start
P="psql -h 127.0.0.1 -p 5499 -U postgres -Atq"
$P -c "CREATE TABLE ledger_line (id int PRIMARY KEY, fen bigint)" -c "INSERT INTO ledger_line SELECT g, 100 FROM generate_series(1,1000) g"
# the nightly base backup (tar, compressed)
$R $B/pg_basebackup -h 127.0.0.1 -p 5499 -U postgres -D /tmp/pitr/base -Ft -z -X fetch -c fast
$P -c "INSERT INTO ledger_line SELECT g, 100 FROM generate_series(1001,1500) g"
sleep 1
TARGET=$($P -c "SELECT now()")
echo "target time: $TARGET"
sleep 1
$P -c "DELETE FROM ledger_line WHERE id > 200"   # the accident
$P -c "SELECT count(*), sum(fen) FROM ledger_line"
$P -c "SELECT pg_switch_wal()" >/dev/null    # ship the last segment to the archive
sleep 2
ls /tmp/pitr/wal
# restore: unpack the base backup into an empty directory, point recovery at the archive
$R tar -xzf /tmp/pitr/base/base.tar.gz -C /tmp/pitr/restored
cat >> /tmp/pitr/restored/postgresql.conf <<CONF
port = 5498
archive_mode = off
restore_command = 'cp /tmp/pitr/wal/%f %p'
recovery_target_time = '$TARGET'
recovery_target_action = 'promote'
CONF
$R touch /tmp/pitr/restored/recovery.signal
$R $B/pg_ctl -D /tmp/pitr/restored -l /tmp/pitr/restored.log -w start
sleep 2
psql -h 127.0.0.1 -p 5498 -U postgres -Atq -c "SELECT pg_is_in_recovery(), count(*), sum(fen) FROM ledger_line"
grep -i "recovery\|redo" /tmp/pitr/restored.log | tail -6
$R $B/pg_ctl -D /tmp/pitr/restored -m fast -w stop
$R $B/pg_ctl -D /tmp/pitr/primary -m fast -w stop
