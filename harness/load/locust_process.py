"""``python -m harness.load.locust_process ARGS``: Locust's own command line, with OS threads left unpatched.

Locust calls ``gevent.monkey.patch_all()`` when it is imported, which also turns ``threading.Thread``
into a greenlet. The asyncio side of a load run (:mod:`harness.locust.bridge`) lives on real threads,
and libraries on that side start threads of their own — anyio's worker threads, which the official
SDKs (httpx) use — that would become greenlets of the loop's thread: the first one to wait blocks the
asyncio loop for good. So ``harness load`` starts its Locust processes through this module, which
patches everything Locust needs (sockets, DNS, ``select``, ``time.sleep``, ``ssl``, ``subprocess``,
signals, queues) except threads, then hands over to Locust's ``main``. Locust itself uses no threads.

Nothing here imports Locust or asyncio before the patching (this package's ``__init__`` is empty).
"""

from __future__ import annotations

import os


def main() -> None:
    os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"  # we patch, below, instead of Locust's patch_all()
    from gevent import monkey

    monkey.patch_all(thread=False)

    import urllib3
    from gevent import queue

    urllib3.connectionpool.ConnectionPool.QueueCls = queue.LifoQueue  # what Locust does after patching

    from locust.main import main as locust_main

    locust_main()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
