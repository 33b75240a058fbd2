"""A process that logs predictions as fast as it can until killed (the SIGKILL test).

``python predlog_writer.py ROOT STORE_URL START``: rows carry ``inputs.seq`` counting up
from START; prints "ready" once the first segment is indexed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from conveyor.serve.runtime import PredictionLog
from support.prediction_log import chunk, open_workspace


def main() -> None:
    root, url, start = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ws = open_workspace(root, url)
    log = PredictionLog(ws, "api", segment_rows=100, flush_seconds=0.02)
    log.start()
    seq, told = start, False
    while True:
        log.submit(chunk(10, start=seq, payload=64))
        seq += 10
        if not told and log.segments_written:
            print("ready", flush=True)
            told = True
        time.sleep(0.001)


if __name__ == "__main__":
    main()
