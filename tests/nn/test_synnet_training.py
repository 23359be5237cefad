"""Training SynNet and Rockpool 3.1's SynNet side by side on the same batches."""

from __future__ import annotations

import pytest
import torch
from synnet_oracle import build_pair, rockpool_forward


@pytest.mark.parametrize("p_dropout", [0.0, 0.2])
def test_twenty_training_steps_follow_rockpool_loss_trajectory(
    p_dropout: float, monkeypatch: pytest.MonkeyPatch
):
    config = dict(n_classes=3, n_channels=4, size_hidden_layers=[12, 6],
                  time_constants_per_layer=[3, 2], output="vmem", train_threshold=True,
                  p_dropout=p_dropout)
    ours, theirs = build_pair(config, seed=7)
    ours.train()
    theirs.train()
    our_optimizer = torch.optim.Adam(ours.parameters(), lr=1e-2)
    # Rockpool modules override parameters() to return a dict; take torch's iterator.
    their_optimizer = torch.optim.Adam(torch.nn.Module.parameters(theirs), lr=1e-2)

    def zero_noise(size: tuple[int, ...], *args: object, **kwargs: object) -> torch.Tensor:
        return torch.zeros(size, device=kwargs.get("device"))  # type: ignore[arg-type]

    # Rockpool's LIFTorch draws its zero-scaled membrane noise from the global generator on
    # every call; without those draws both networks draw only the dropout masks, so seeding
    # before each step gives both the same masks.
    monkeypatch.setattr(torch, "randn", zero_noise)
    generator = torch.Generator().manual_seed(8)
    our_losses, their_losses = [], []
    for step in range(20):
        labels = torch.randint(0, 3, (4,), generator=generator)
        rates = torch.full((4, 20, 4), 0.2)
        rates[torch.arange(4), :, labels] = 0.8
        x = torch.bernoulli(rates, generator=generator) * 2
        for net, optimizer, losses in ((ours, our_optimizer, our_losses),
                                       (theirs, their_optimizer, their_losses)):
            torch.manual_seed(step)
            optimizer.zero_grad()
            output = net(x) if net is ours else rockpool_forward(net, x)
            loss = torch.nn.functional.cross_entropy(output.mean(1), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert their_losses[-1] < 0.5 * their_losses[0], "the task must be learnt for the test to bite"
    torch.testing.assert_close(torch.tensor(our_losses), torch.tensor(their_losses),
                               rtol=1e-4, atol=1e-5)
