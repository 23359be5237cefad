"""SynNet under ``DistributedDataParallel``: 2 CPU processes (gloo) on halves of a batch give
the gradients of one process on the whole batch.

The loss is a mean over the batch, so DDP's average of the two half-batch gradients is the
full-batch gradient (up to float rounding of the sums).
"""

from __future__ import annotations

import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from synnet_triton.nn.synnet import SynNet

WORLD = 2
BATCH = 4


def _network() -> SynNet:
    torch.manual_seed(0)
    return SynNet(n_classes=3, n_channels=4, size_hidden_layers=[6, 5],
                  time_constants_per_layer=[2, 2], train_threshold=True,
                  train_time_constants=True, threshold=0.5, backend="torch")


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 4, (BATCH, 40, 4), generator=g).float()
    target = torch.rand(BATCH, 40, 3, generator=g)
    return x, target


def _loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # a per-sample loss averaged over the batch
    return ((output - target) ** 2).sum(dim=(1, 2)).mean()


def _worker(rank: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)
    try:
        torch.set_num_threads(1)
        net = _network()
        if rank == 1:
            # rank 1 starts from other weights: DDP must broadcast rank 0's
            with torch.no_grad():
                for p in net.parameters():
                    p.add_(1.0)
        model = DistributedDataParallel(net)
        x, target = _data()
        share = BATCH // WORLD
        rows = slice(rank * share, (rank + 1) * share)
        output = model(x[rows])
        _loss(output, target[rows]).backward()
        grads = {name: p.grad.clone() for name, p in net.named_parameters()}
        torch.save({"grads": grads, "output": output.detach()}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ddp_averaged_gradients_equal_full_batch_gradients(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]

    net = _network()
    x, target = _data()
    output = net(x)
    assert output.sum() > 0, "the test needs readout spikes"
    _loss(output, target).backward()

    # each rank's forward is the single-process forward on its rows
    assert torch.equal(torch.cat([r["output"] for r in ranks]), output.detach())
    names = [name for name, _ in net.named_parameters()]
    assert set(ranks[0]["grads"]) == set(names)
    for name, p in net.named_parameters():
        assert p.grad.abs().sum() > 0, name
        # DDP's all-reduce leaves the same gradient on every rank
        assert torch.equal(ranks[0]["grads"][name], ranks[1]["grads"][name]), name
        torch.testing.assert_close(ranks[0]["grads"][name], p.grad, rtol=1e-5, atol=1e-7,
                                   msg=name)
