"""Times Prefect 3.9.1's own storage pulls (GitRepository / RemoteStorage.pull_code), cold and
warm, for `cargo xtask bench-compare --storage`. Prints one JSON object on stdout.

argv: KIND URL BASE_DIR [SETTINGS_JSON]
  KIND      git | remote
  URL       the repository URL (credentials embedded for http) or s3://bucket/prefix
  BASE_DIR  an empty directory the code is pulled under
  SETTINGS  fsspec settings for RemoteStorage (JSON object)
"""
import asyncio
import json
import sys
import time
from pathlib import Path

from prefect.runner.storage import GitRepository, RemoteStorage


async def main() -> None:
    kind, url, base = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    settings = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    if kind == "git":
        storage = GitRepository(url=url)
    else:
        storage = RemoteStorage(url, **settings)
    storage.set_base_path(base)
    started = time.perf_counter()
    await storage.pull_code()
    cold = time.perf_counter() - started
    started = time.perf_counter()
    await storage.pull_code()
    warm = time.perf_counter() - started
    files = sum(1 for p in storage.destination.rglob("*") if p.is_file() and ".git" not in p.parts)
    print(json.dumps({"cold_s": cold, "warm_s": warm, "files": files}))


asyncio.run(main())
