"""Many runs as one: a RecurrentEnsemble trained by `train` equals its members trained alone."""

import copy

import pytest
import torch

from rnn2transformer import train
from rnn2transformer.models.ensemble import RecurrentEnsemble
from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel
from rnn2transformer.synthetic import adding_batches, adding_problem
from rnn2transformer.training import accuracy, evaluate

from .parity import seeded_members


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


TASKS = {  # config, inputs, targets
    "features, last": (dict(hidden_size=5), torch.randn(4, 7, 2), torch.randn(4)),
    "features, mean, 3 outputs": (dict(hidden_size=5, output_size=3),
                                  torch.randn(4, 7, 2), torch.randn(4, 3)),
    "ids, every step": (dict(hidden_size=5, vocab_size=11, input_size=3, output_size=11,
                             readout="all", loss="cross_entropy"),
                        torch.randint(0, 11, (4, 7)), torch.randint(0, 11, (4, 7))),
}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("task", list(TASKS))
def test_ensemble_outputs_and_losses_are_each_members_own(kind, task, float64):
    config, x, y = TASKS[task]
    x = x.double() if x.is_floating_point() else x
    y = y.double() if y.is_floating_point() else y
    if task.startswith("features, mean"):
        config = {**config, "readout": "mean"}
    members = seeded_members(3, kind=kind, **config)
    out, losses = RecurrentEnsemble(members)(x, y)
    assert losses.shape == (3,)
    for e, member in enumerate(members):
        own_out, own_loss = member(x, y)
        torch.testing.assert_close(out[e], own_out, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(losses[e], own_loss, rtol=1e-12, atol=1e-12)


def test_gradient_of_the_summed_losses_is_each_members_own(float64):
    members = seeded_members(3, kind="lstm", hidden_size=4)
    alone = copy.deepcopy(members)
    x, y = torch.randn(5, 6, 2), torch.randn(5)
    RecurrentEnsemble(members)(x, y)[1].sum().backward()
    for together, single in zip(members, alone, strict=True):
        single(x, y)[1].backward()
        for a, b in zip(together.parameters(), single.parameters(), strict=True):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_a_batched_run_equals_separate_runs(kind, float64):
    """The sweep of chapter 4: the same batches, one learning rate and clipping per member."""
    lrs = [3e-3, 3e-2, 3e-1]
    members = seeded_members(3, kind=kind, hidden_size=6)
    alone = copy.deepcopy(members)
    val = adding_problem(64, 9, generator=torch.Generator().manual_seed(5))
    settings = dict(val_data=val, steps=25, clip_grad_norm=0.5, eval_every=5, warmup_steps=4,
                    schedule="cosine")
    history = train(RecurrentEnsemble(members), adding_batches(9, 8), lr=lrs, **settings)
    assert len(history) == 3 * 5 and list(history.columns[:2]) == ["member", "step"]
    for e, (member, lr) in enumerate(zip(alone, lrs, strict=True)):
        own = train(member, adding_batches(9, 8), lr=lr, **settings)
        mine = history[history.member == e].reset_index(drop=True)
        for column in ["step", "lr", "train_loss", "grad_norm", "val_loss"]:
            torch.testing.assert_close(torch.tensor(mine[column].to_numpy()),
                                       torch.tensor(own[column].to_numpy()),
                                       rtol=1e-10, atol=1e-12, msg=column)
        for a, b in zip(members[e].parameters(), member.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_ensemble_on_tensor_data_with_metrics_equals_separate_runs(float64):
    members = seeded_members(2, kind="gru", hidden_size=4, output_size=2, loss="cross_entropy")
    alone = copy.deepcopy(members)
    x, y = torch.randn(40, 6, 2), torch.randint(0, 2, (40,))
    settings = dict(val_data=(x[:16], y[:16]), epochs=3, batch_size=16,
                    metrics={"accuracy": accuracy}, optimizer="sgd")
    history = train(RecurrentEnsemble(members), (x, y), lr=[0.1, 0.5], **settings)
    for e, (member, lr) in enumerate(zip(alone, [0.1, 0.5], strict=True)):
        own = train(member, (x, y), lr=lr, **settings)
        mine = history[history.member == e].reset_index(drop=True)
        for column in ["epoch", "train_loss", "val_loss", "accuracy"]:
            torch.testing.assert_close(torch.tensor(mine[column].to_numpy()),
                                       torch.tensor(own[column].to_numpy()),
                                       rtol=1e-10, atol=1e-12, msg=column)
    scores = evaluate(RecurrentEnsemble(members), (x, y), metrics={"accuracy": accuracy})
    assert len(scores["loss"]) == 2 and len(scores["accuracy"]) == 2


def test_a_diverging_member_stops_the_ensemble():
    members = seeded_members(2, kind="rnn", hidden_size=4)
    with torch.no_grad():
        members[1].head.bias.fill_(float("nan"))
    history = train(RecurrentEnsemble(members), adding_batches(5, 4), steps=30, eval_every=10)
    assert history.step.max() == 10  # the first evaluation saw the NaN and stopped
    # Why it must stop: through the zero blocks (0 x NaN = NaN) the NaN reached member 0 too.
    assert history.train_loss.isna().all()


def test_bad_ensembles_and_learning_rates_fail_with_messages():
    with pytest.raises(TypeError, match="members must be a list of RecurrentModel, got int"):
        RecurrentEnsemble(3)
    with pytest.raises(ValueError, match="at least one RecurrentModel"):
        RecurrentEnsemble([])
    with pytest.raises(TypeError, match=r"members\[1\] must be a RecurrentModel, got Linear"):
        RecurrentEnsemble([RecurrentModel(RecurrentConfig()), torch.nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="the same RecurrentConfig"):
        RecurrentEnsemble([RecurrentModel(RecurrentConfig(hidden_size=4)),
                           RecurrentModel(RecurrentConfig(hidden_size=5))])
    with pytest.raises(ValueError, match="implementation='torch', got 'scratch'"):
        RecurrentEnsemble(seeded_members(2, implementation="scratch"))
    ensemble = RecurrentEnsemble(seeded_members(2, hidden_size=4))
    with pytest.raises(ValueError, match="one learning rate per member, 2, got 3"):
        train(ensemble, adding_batches(5, 4), steps=2, lr=[1e-3, 1e-3, 1e-3])
    with pytest.raises(ValueError, match=r"lr\[1\]"):
        train(ensemble, adding_batches(5, 4), steps=2, lr=[1e-3, -1.0])
    with pytest.raises(TypeError, match="a list of learning rates is for an Ensemble"):
        train(RecurrentModel(RecurrentConfig()), adding_batches(5, 4), steps=2, lr=[1e-3])
    with pytest.raises(ValueError, match="without checkpoint="):
        train(ensemble, adding_batches(5, 4), steps=2, checkpoint="x.pt")
    with pytest.raises(ValueError, match="stop_when"):
        train(ensemble, adding_batches(5, 4), steps=2, stop_when=lambda row: False)


def test_the_ensemble_holds_only_its_members_weights():
    ensemble = RecurrentEnsemble(seeded_members(4, kind="lstm", hidden_size=8))
    members_total = sum(p.numel() for m in ensemble.members for p in m.parameters())
    assert sum(p.numel() for p in ensemble.parameters()) == members_total
    assert set(ensemble.state_dict()) == {f"members.{i}.{k}" for i in range(4)
                                          for k in ensemble.members[0].state_dict()}
    w_ih, w_hh, b_ih, b_hh = ensemble.fused_weights()
    assert w_ih.shape == (4 * 4 * 8, 2) and w_hh.shape == (4 * 4 * 8, 4 * 8)
    # block-diagonal: member 0's gates read nothing of the other members' states
    rows_member0 = torch.cat([torch.arange(8) + g * 32 for g in range(4)])
    assert bool((w_hh[rows_member0][:, 8:] == 0).all())
    torch.testing.assert_close(w_hh[rows_member0][:, :8], ensemble.members[0].rnn.weight_hh_l0)
