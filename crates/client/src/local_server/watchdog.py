# prefab local-server watchdog (see ServerOptions::stop_when_unused in mod.rs).
#
# Stops the Prefect server once none of the processes that started or reused it (the PIDs in
# server.users) has been alive for GRACE seconds, so a server shared by test runs does not
# outlive them forever. It runs on the server venv's interpreter because a std-only Rust
# library cannot fork a helper of its own without unsafe code. It takes the same flock(2) lock
# as LocalServer::start/stop_in, so it never stops a server that a start() is about to reuse.
#
# usage: python -I watchdog.py STATE_DIR SERVER_PID GRACE_SECONDS STOP_TIMEOUT_SECONDS [SIG:PID]...
#
# Each SIG:PID (e.g. TERM:123 for Redis, INT:456 for PostgreSQL's fast shutdown) is a process
# the server stood on, stopped after the server in the order given.

import fcntl
import os
import signal
import sys
import time

state_dir, server_pid = sys.argv[1], int(sys.argv[2])
grace, stop_timeout = float(sys.argv[3]), float(sys.argv[4])
backing = [(getattr(signal, "SIG" + sig), int(pid))
           for sig, pid in (arg.split(":", 1) for arg in sys.argv[5:])]
STATE_FILES = ("server.pid", "server.port", "server.url", "server.options", "server.users",
               "redis.pid", "redis.port")


def alive(pid):
    """Like process::is_alive in Rust: a zombie counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return False
    except OSError:
        return False
    try:  # no /proc (macOS, BSD)
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def read(name):
    try:
        with open(os.path.join(state_dir, name)) as f:
            return f.read()
    except OSError:
        return ""


def in_use():
    return any(alive(int(p)) for p in read("server.users").split() if p.isdigit())


def still_ours():
    return read("server.pid").strip() == str(server_pid) and alive(server_pid)


def end(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + stop_timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop():
    end(server_pid, signal.SIGTERM)
    for sig, pid in backing:
        end(pid, sig)
    for name in STATE_FILES:
        try:
            os.remove(os.path.join(state_dir, name))
        except FileNotFoundError:
            pass


idle_since = None
while still_ours():
    time.sleep(1)
    if in_use():
        idle_since = None
        continue
    idle_since = idle_since or time.monotonic()
    if time.monotonic() - idle_since < grace:
        continue
    with open(os.path.join(state_dir, "start.lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a start or stop is under way; look again afterwards
        # Re-checked under the lock: a start() may have registered a user meanwhile.
        if in_use() or not still_ours():
            idle_since = None
            continue
        stop()
        print(f"=== prefab watchdog: stopped pid {server_pid}, unused for {grace:.0f} s",
              flush=True)
        break
