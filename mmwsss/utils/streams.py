"""Run GPU work on a second CUDA stream, concurrently with the work queued after it."""
import torch
from torch import Tensor

__all__ = ['SideStream']


class SideStream:
    """A second CUDA stream for work that does not depend on what the current stream does
    next, so that both run at once (e.g. SAM's image encoder while Grounding DINO detects:
    the detector's many small kernels and host syncs leave the GPU room).

        side = SideStream(device)
        with side:
            feats = encoder(images)      # queued on the side stream
        boxes = detector(images)         # queued on the current stream, runs concurrently
        side.join(feats)                 # the current stream waits for the side stream

    The side stream first waits for the work already queued on the current stream (its
    inputs). ``join`` makes the current stream wait for the side stream and marks the given
    tensors as used there, so the caching allocator does not hand their memory out early. On
    a CPU device everything runs in place and ``join`` does nothing.
    """

    def __init__(self, device) -> None:
        self.device = torch.device(device)
        self.stream = torch.cuda.Stream(self.device) if self.device.type == 'cuda' else None
        self._main = self._context = None

    def __enter__(self) -> 'SideStream':
        if self.stream is not None:
            self._main = torch.cuda.current_stream(self.device)
            self.stream.wait_stream(self._main)
            self._context = torch.cuda.stream(self.stream)
            self._context.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        if self._context is not None:
            self._context.__exit__(*exc)
            self._context = None
        return False

    def join(self, *tensors: Tensor) -> None:
        if self.stream is None or self._main is None:
            return
        self._main.wait_stream(self.stream)
        for t in tensors:
            t.record_stream(self._main)
