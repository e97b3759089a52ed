"""Ctrl-C (SIGINT) around steps that must not stop half-way."""
import contextlib
import signal
import threading


@contextlib.contextmanager
def ctrl_c_deferred():
    """Hold a Ctrl-C (SIGINT) that comes inside the block until the block is done, then
    deliver it to the handler from before (a ``KeyboardInterrupt`` by default). For steps that
    must not stop half-way, such as starting a process. Only the main thread receives
    signals; elsewhere the block runs as it is. Several Ctrl-Cs in the block count as one.
    Blocks are short (milliseconds) but for a process start (the first waits for the fork
    server's imports)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is None):  # a handler set outside Python
        yield
        return
    held = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)
