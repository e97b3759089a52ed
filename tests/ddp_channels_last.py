"""Run by test_speed.py under torchrun (2 gloo processes): DDP gradients of a channels_last
model against a manual all-reduce. argv: OUT_JSON, 'wrapper' (mmwsss.DistributedDataParallel
with channels_last=True) or 'late' (converted after DDP is built, as a before_run hook did)."""
import json
import sys

import torch
import torch.distributed as dist
from torch import nn

from mmwsss.engine import DistributedDataParallel, to_channels_last


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 4, 3, padding=1)).double()


def main(out: str, mode: str) -> None:
    dist.init_process_group('gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    model, ref = net(), net()
    if mode == 'wrapper':
        ddp = DistributedDataParallel(model, channels_last=True, find_unused_parameters=True)
    else:
        ddp = DistributedDataParallel(model, find_unused_parameters=True)
        to_channels_last(model)
    g = torch.Generator().manual_seed(100 + rank)
    errors = []
    for _ in range(3):
        x = torch.randn(2, 3, 8, 8, generator=g).double()
        model.zero_grad()
        ddp(x.contiguous(memory_format=torch.channels_last)).pow(2).mean().backward()
        ref.zero_grad()
        ref(x).pow(2).mean().backward()
        for p in ref.parameters():
            dist.all_reduce(p.grad)
            p.grad /= world
        errors.append(max((p.grad - q.grad).abs().max().item()
                          for p, q in zip(model.parameters(), ref.parameters())))
    if rank == 0:
        with open(out, 'w') as f:
            json.dump(dict(errors=errors, channels_last=all(
                p.is_contiguous(memory_format=torch.channels_last)
                for p in model.parameters() if p.dim() == 4)), f)
    dist.destroy_process_group()


if __name__ == '__main__':
    main(*sys.argv[1:3])
