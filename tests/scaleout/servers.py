"""Real servers for the scale-out tests, started on this machine from the running
PostgreSQL primary (the one DATABASE_URL names): a hot standby made with
`pg_basebackup -R` (a second cluster on a free port) and PgBouncer in transaction mode.
Both are started once per test session and removed at its end; docs/OPERATIONS.md has
the same commands for production."""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

LOCAL_HOSTS = ("", "127.0.0.1", "localhost")
REPLICATION_RULE = "host replication all 127.0.0.1/32 trust"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL's programs refuse to run as root: run them as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)  # noqa: S603


def primary_conninfo(db: dict) -> str:
    return (f"host={db.get('HOST') or '127.0.0.1'} port={db.get('PORT') or 5432} "
            f"user={db.get('USER') or 'postgres'} dbname=postgres")


def bindir(conn: psycopg.Connection) -> Path:
    major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
    path = Path(f"/usr/lib/postgresql/{major}/bin")
    if not (path / "pg_ctl").exists():
        found = shutil.which("pg_ctl")
        if not found:
            raise RuntimeError(f"no pg_ctl for PostgreSQL {major}")
        path = Path(found).parent
    return path


def allow_replication(conn: psycopg.Connection) -> None:
    """The primary must accept replication connections from loopback; Debian's default
    pg_hba.conf has none for TCP. Adds the one line (trust, as the other loopback
    lines of this machine) and reloads, once."""
    rules = conn.execute("SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' "
                         "AND 'replication' = ANY(database) AND error IS NULL").fetchone()[0]
    if rules:
        return
    hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
    with hba.open("a") as fh:
        fh.write(f"\n# added by smart-finance tests/scaleout (a hot standby on loopback)\n"
                 f"{REPLICATION_RULE}\n")
    conn.execute("SELECT pg_reload_conf()")


@dataclass
class Standby:
    port: int
    datadir: Path

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"


@contextlib.contextmanager
def hot_standby(db: dict) -> Iterator[Standby]:
    """A hot standby of the primary `db` (Django settings of a PostgreSQL database),
    as a new cluster on a free port; stopped and deleted on exit."""
    with psycopg.connect(primary_conninfo(db), autocommit=True) as conn:
        bin_ = bindir(conn)
        allow_replication(conn)
        limits = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in (  # noqa: S608
            "max_connections", "max_worker_processes", "max_wal_senders",
            "max_prepared_transactions", "max_locks_per_transaction")}
    port = free_port()
    datadir = Path(tempfile.mkdtemp(prefix="sf_standby_"))  # mode 0700, as PostgreSQL wants
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(datadir, pg.pw_uid, pg.pw_gid)
    log = datadir.parent / f"{datadir.name}.log"
    started = False
    try:
        for attempt in range(20):  # the reload that allows replication takes a moment
            try:
                run(as_postgres([str(bin_ / "pg_basebackup"), "-h", db.get("HOST") or "127.0.0.1",
                                 "-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres",
                                 "-D", str(datadir), "-R", "-X", "stream", "-c", "fast",
                                 "--no-sync"]))
                break
            except subprocess.CalledProcessError as exc:
                if attempt == 19 or "pg_hba.conf" not in exc.stderr:
                    raise RuntimeError(f"pg_basebackup failed: {exc.stderr}") from exc
                time.sleep(0.25)
        # Debian keeps the primary's postgresql.conf and pg_hba.conf outside the data
        # directory: the standby gets its own. A hot standby needs these limits at least
        # as high as the primary's.
        conf = [f"port = {port}", "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{datadir}'", "hot_standby = on",
                "shared_buffers = 32MB", "fsync = off", "logging_collector = off",
                *(f"{k} = {v}" for k, v in limits.items())]
        (datadir / "postgresql.conf").write_text("\n".join(conf) + "\n")
        (datadir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n")
        (datadir / "pg_ident.conf").write_text("")
        for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
            shutil.chown(datadir / name, "postgres", "postgres") if os.geteuid() == 0 else None
        if os.geteuid() == 0:
            log.touch()
            shutil.chown(log, "postgres", "postgres")
        run(as_postgres([str(bin_ / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-w",
                         "-t", "60", "start"]))
        started = True
        standby = Standby(port=port, datadir=datadir)
        with psycopg.connect(standby.conninfo(), autocommit=True) as conn:
            if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                raise RuntimeError("the standby is not in recovery")
        yield standby
    finally:
        if started:
            subprocess.run(as_postgres([str(bin_ / "pg_ctl"), "-D", str(datadir), "-m",  # noqa: S603
                                        "immediate", "-w", "stop"]), capture_output=True,
                           check=False)
        shutil.rmtree(datadir, ignore_errors=True)
        with contextlib.suppress(OSError):
            log.unlink()


@dataclass
class Pooler:
    port: int


@contextlib.contextmanager
def pgbouncer(db: dict, pool_size: int = 10) -> Iterator[Pooler]:
    """PgBouncer in transaction mode on a free port, in front of the primary `db`, for
    every database on it, `pool_size` server connections per database and user; stopped
    on exit."""
    exe = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(exe).exists():
        raise RuntimeError("pgbouncer is not installed (Debian package pgbouncer; .ci/run "
                           "installs it)")
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="sf_pgbouncer_"))
    (work / "userlist.txt").write_text('"postgres" ""\n')
    (work / "pgbouncer.ini").write_text(f"""[databases]
* = host={db.get('HOST') or '127.0.0.1'} port={db.get('PORT') or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
admin_users = postgres
auth_file = {work}/userlist.txt
pool_mode = transaction
; each transaction takes the server connection idle longest: a client's consecutive
; transactions land on different server connections, as under load
server_round_robin = 1
max_client_conn = 200
default_pool_size = {pool_size}
logfile = {work}/pgbouncer.log
pidfile = {work}/pgbouncer.pid
ignore_startup_parameters = extra_float_digits,options
""")
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        for path in (work, *work.iterdir()):
            os.chown(path, pg.pw_uid, pg.pw_gid)
    as_user = ["-u", "postgres"] if os.geteuid() == 0 else []  # it refuses to run as root
    proc = subprocess.Popen([exe, *as_user, str(work / "pgbouncer.ini")],  # noqa: S603
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            try:
                with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres",
                                     autocommit=True, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if proc.poll() is not None:
                    raise RuntimeError(f"pgbouncer exited: {proc.stderr.read()}") from None
                time.sleep(0.05)
        else:
            raise RuntimeError("pgbouncer did not start")
        yield Pooler(port=port)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
