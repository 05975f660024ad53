"""``signals_held`` holds an interrupt back even when another thread receives it.

The kernel hands a signal sent to the process to any thread that does not block it; Python then
runs the handler in the main thread at once. Blocking the signal in the main thread alone (as
``signals_held`` did) let Ctrl-C fall inside the blocks that create and record a temporary file.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import signal, threading, time
from normcli.io.writer import signals_held
signal.signal(signal.SIGINT, signal.default_int_handler)
stop = threading.Event()
helper = threading.Thread(target=stop.wait, daemon=True)
helper.start()
steps = []
try:
    with signals_held():
        signal.pthread_kill(helper.ident, signal.SIGINT)  # as the kernel may: another thread
        for _ in range(200):  # Python code runs on; the handler must wait for the block's end
            time.sleep(0.01)
        steps.append("block done")
    steps.append("not interrupted")
except KeyboardInterrupt:
    steps.append("interrupted")
stop.set()
print(",".join(steps))
"""


def test_interrupt_received_by_another_thread_waits_for_the_block() -> None:
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "block done,interrupted"  # raised once the block ended
