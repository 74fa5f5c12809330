"""Parity checks: every scratch recurrent layer against its fused PyTorch twin, and seeded
models that a CPU and a GPU run start from alike (here and in tests/gpu)."""

import torch

from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel

WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def assert_scratch_matches_torch(scratch, reference, x, state=None):
    """Same outputs, final state and weight gradients, from the same (copied) weights.

    ``state`` is the scratch layer's starting state: a tensor (B, H), a tuple of them (the
    LSTM's (h, c)) or None; PyTorch's layer gets it with its layer dimension added."""
    def torch_state(s):
        if s is None:
            return None
        return tuple(t.unsqueeze(0) for t in s) if isinstance(s, tuple) else s.unsqueeze(0)

    def flat(s):
        return list(s) if isinstance(s, tuple) else [s]

    ref_out, ref_state = reference(x, torch_state(state))
    out, last = scratch(x, state)
    torch.testing.assert_close(out, ref_out)
    for mine, theirs in zip(flat(last), flat(ref_state), strict=True):
        torch.testing.assert_close(mine, theirs[0])
    (ref_out.square().sum() + sum(s.sum() for s in flat(ref_state))).backward()
    (out.square().sum() + sum(s.sum() for s in flat(last))).backward()
    for name in WEIGHTS:
        torch.testing.assert_close(getattr(scratch.cell, name).grad,
                                   getattr(reference, f"{name}_l0").grad)


def seeded_members(n, **config):
    """``n`` recurrent models of one configuration, model ``i`` initialised from seed ``i``."""
    members = []
    for seed in range(n):
        torch.manual_seed(seed)
        members.append(RecurrentModel(RecurrentConfig(**config)))
    return members
