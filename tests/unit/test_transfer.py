"""Freezing, head swapping, the cached pretrained checkpoint, scoring by likelihood, training
until the training set is fitted, and dropout (ch. 8, 9)."""

import math

import pytest
import torch
import torch.nn.functional as F

from rnn2transformer import train
from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel
from rnn2transformer.models.transformer import TransformerConfig, TransformerModel
from rnn2transformer.training import accuracy, count_parameters, evaluate
from rnn2transformer.transfer import (
    LikelihoodScorer,
    freeze,
    freeze_part,
    pretrained,
    stages,
    swap_head,
    train_to_fit,
    trainable_table,
    unfreeze,
    with_dropout,
)


def small_transformer():
    return TransformerModel(TransformerConfig(vocab_size=9, d_model=16, n_heads=2, n_layers=2,
                                              d_ff=32, positions="learned", max_len=16,
                                              causal=True, output_size=9, readout="all",
                                              loss="cross_entropy"))


def small_lstm():
    return RecurrentModel(RecurrentConfig(kind="lstm", vocab_size=9, input_size=4, hidden_size=8,
                                          output_size=9, readout="all", loss="cross_entropy"))


def lm_batches(generator):
    x = torch.randint(0, 9, (8, 12), generator=generator)
    return x, x.roll(-1, dims=1)


def test_stages_list_parts_from_input_to_output():
    assert [n for n, _ in stages(small_transformer())] == [
        "embed", "position", "blocks.0", "blocks.1", "norm", "head"]
    assert [n for n, _ in stages(small_lstm())] == ["embed", "rnn", "head"]
    with pytest.raises(TypeError, match="RecurrentModel or TransformerModel"):
        stages(torch.nn.Linear(2, 2))


def test_frozen_parameters_do_not_change_in_a_training_step():
    torch.manual_seed(0)
    model = small_transformer()
    frozen = freeze(model, depth=3)  # embed, position, first block
    assert frozen and all(n.split(".")[0] in ("embed", "position", "blocks") for n in frozen)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train(model, lm_batches, steps=3, lr=1e-2)
    for name, p in model.named_parameters():
        if name in frozen:
            assert torch.equal(p, before[name]), f"{name} changed though frozen"
        elif name.startswith("blocks.1.linear1.weight"):
            assert not torch.equal(p, before[name]), f"{name} did not train"


def test_freeze_by_prefix_counts_and_unfreeze():
    model = small_lstm()
    total = count_parameters(model)
    freeze(model, prefixes=["embed", "rnn"])
    assert count_parameters(model, trainable_only=True) == sum(
        p.numel() for p in model.head.parameters())
    table = trainable_table(model)
    assert table.set_index("part").loc["head", "trainable"] == table.set_index("part").loc[
        "head", "parameters"]
    unfreeze(model)
    assert count_parameters(model, trainable_only=True) == total
    with pytest.raises(ValueError, match="no parameter name starts with 'decoder'"):
        freeze(model, prefixes=["decoder"])
    with pytest.raises(ValueError, match="exactly one of prefixes or depth"):
        freeze(model)
    with pytest.raises(ValueError, match="depth must be at most 3"):
        freeze(model, depth=4)


def test_swap_head_keeps_the_body_and_changes_the_task():
    torch.manual_seed(0)
    model = small_transformer()
    body = model.blocks[0].linear1.weight.detach().clone()
    swap_head(model, 3, hidden=5, readout="mean")
    out, loss = model(torch.randint(0, 9, (4, 6)), torch.tensor([0, 1, 2, 0]))
    assert out.shape == (4, 3) and loss.ndim == 0
    assert torch.equal(model.blocks[0].linear1.weight, body)
    swap_head(model, 2)  # a Sequential head can be swapped again
    assert isinstance(model.head, torch.nn.Linear) and model.head.out_features == 2


def test_pretrained_cache_is_reused_and_a_corrupt_one_is_retrained(tmp_path, monkeypatch):
    monkeypatch.setenv("RNN2T_CACHE_DIR", str(tmp_path))
    settings = dict(train_data=lm_batches, steps=4, lr=1e-2)
    torch.manual_seed(0)
    first, history = pretrained("tiny", small_lstm, **settings)
    assert (tmp_path / "tiny.pt").exists() and len(history) > 0
    torch.manual_seed(1)
    again, history_again = pretrained("tiny", small_lstm, **settings)
    for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # loaded, not retrained from the other seed
    assert history_again.elapsed_s.tolist() == history.elapsed_s.tolist()
    (tmp_path / "tiny.pt").write_bytes(b"\x00garbage")
    with pytest.warns(UserWarning, match="could not be read.*training from scratch"):
        pretrained("tiny", small_lstm, **settings)
    with pytest.raises(ValueError, match="name must be letters"):
        pretrained("../escape", small_lstm, **settings)


def test_the_mlp_has_stages_and_a_swappable_head_like_the_other_families():
    from rnn2transformer.models.mlp import MLP, MLPConfig

    model = MLP(MLPConfig(input_size=2, hidden_size=8, n_layers=3, output_size=2))
    assert [name for name, _ in stages(model)] == ["hidden.0", "hidden.1", "hidden.2", "head"]
    body = model.hidden[0].weight.clone()
    swap_head(model, 5)
    assert model.config.output_size == 5 and model(torch.randn(4, 2))[0].shape == (4, 5)
    assert torch.equal(model.hidden[0].weight, body)
    assert freeze(model, depth=3) == [f"hidden.{i}.{p}" for i in range(3) for p in ("weight",
                                                                                     "bias")]


def sinusoidal_transformer():
    return TransformerModel(TransformerConfig(vocab_size=9, d_model=16, n_heads=2, n_layers=2,
                                              d_ff=32, positions="sinusoidal", max_len=16,
                                              causal=True, output_size=9, readout="all",
                                              loss="cross_entropy"))


def test_freeze_part_names_the_three_settings_for_each_family():
    trainable = {}
    for part in ("none", "lower half", "body"):
        model = sinusoidal_transformer()  # embed, blocks.0, blocks.1, norm, head
        frozen = freeze_part(model, part)
        trainable[part] = {n.split(".")[0] + ("." + n.split(".")[1] if n.startswith("blocks")
                                              else "")
                           for n, p in model.named_parameters() if p.requires_grad}
        assert not set(frozen) & {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable["none"] == {"embed", "blocks.0", "blocks.1", "norm", "head"}
    assert trainable["lower half"] == {"blocks.1", "norm", "head"}
    assert trainable["body"] == {"head"}
    lstm = small_lstm()  # embed, rnn, head: its lower half is the embedding
    assert freeze_part(lstm, "lower half") == ["embed.weight"]
    with pytest.raises(ValueError, match="part must be one of"):
        freeze_part(lstm, "top")


def log_probability(model, sequence):
    """log p(x_1..x_T | x_0) summed by hand, one position at a time."""
    logits, _ = model(sequence[None, :-1])
    return sum(F.log_softmax(logits[0, t], dim=-1)[sequence[t + 1]].item()
               for t in range(len(sequence) - 1))


@pytest.mark.parametrize("build", [small_lstm, sinusoidal_transformer])
def test_a_pair_scores_each_copy_by_its_log_probability_without_the_padding(build):
    torch.manual_seed(0)
    model, pad = build().eval(), 8
    a, b = torch.tensor([1, 2, 3, 4, 8, 8]), torch.tensor([1, 3, 2, 4, 8, 8])
    scorer = LikelihoodScorer(model, pad=pad)
    scores, loss = scorer(torch.stack([a, b])[None], torch.tensor([0]))
    assert scores.shape == (1, 2)
    torch.testing.assert_close(scores[0, 0].item(), log_probability(model, a[:4]), rtol=1e-5,
                               atol=1e-5)  # the padding after the text counts for nothing
    torch.testing.assert_close(scores[0, 1].item(), log_probability(model, b[:4]), rtol=1e-5,
                               atol=1e-5)
    torch.testing.assert_close(loss, F.cross_entropy(scores, torch.tensor([0])))
    chosen = accuracy(scores, torch.tensor([0])).item()  # zero-shot: the more probable copy
    assert chosen == float(scores[0, 0] > scores[0, 1])
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        scorer(a[None])


def pair_data(n, generator):
    """Pairs whose original starts with token 1, its shuffle with token 2 (learnable)."""
    body = torch.randint(3, 8, (n, 2, 5), generator=generator)
    body[:, 0, 0], body[:, 1, 0] = 1, 2
    y = torch.randint(0, 2, (n,), generator=generator)
    x = torch.where(y[:, None, None] == 1, body.flip(1), body)
    return torch.cat([torch.zeros(n, 2, 1, dtype=torch.long), x], dim=2), y


def test_train_to_fit_stops_when_the_training_set_is_fitted_or_stops_improving():
    torch.manual_seed(0)
    x, y = pair_data(64, torch.Generator().manual_seed(0))
    scorer = LikelihoodScorer(small_lstm(), pad=8)
    history = train_to_fit(scorer, (x, y), max_steps=500, lr=3e-2, batch_size=16, eval_every=5)
    assert history.accuracy.iloc[-1] >= 0.99 and history.step.iloc[-1] < 500
    assert evaluate(scorer, (x, y), metrics={"accuracy": accuracy})["accuracy"] >= 0.99
    twins = x[:, :1].expand(-1, 2, -1)  # both copies alike: no model can tell them apart
    stalled = train_to_fit(LikelihoodScorer(small_lstm(), pad=8), (twins, y), max_steps=500,
                           lr=1e-2, batch_size=16, eval_every=5, patience=3)
    assert stalled.step.iloc[-1] == 20 and stalled.accuracy.iloc[-1] < 0.99  # 4 evaluations
    with pytest.raises(ValueError, match="target must be"):
        train_to_fit(scorer, (x, y), max_steps=5, target=0.0)


def test_dropout_acts_in_training_only_and_keeps_the_parts_where_they_were():
    torch.manual_seed(0)
    model = sinusoidal_transformer().eval()
    x = torch.randint(0, 9, (4, 6))
    before = model(x)[0]
    names = [n for n, _ in model.named_parameters()]
    with_dropout(model, 0.5)
    assert [n for n, _ in stages(model)] == ["embed", "blocks.0", "blocks.1", "norm", "head"]
    assert [n.replace("embed.0.", "embed.").replace("head.1.", "head.")
            for n, _ in model.named_parameters()] == names
    model.eval()
    torch.testing.assert_close(model(x)[0], before)  # evaluation: no dropout at all
    model.train()
    assert not torch.allclose(model(x)[0], before)
    assert freeze_part(model, "body") and count_parameters(model, trainable_only=True) == (
        9 * 16 + 9)
    with pytest.raises(ValueError, match="p must be <= 1"):
        with_dropout(small_lstm(), 1.5)
    with pytest.raises(TypeError, match="`embed` and `head`"):
        with_dropout(torch.nn.Linear(2, 2), 0.1)
    assert math.isclose(0.5, model.embed[1].p)
