"""Freezing, head swapping, the cached pretrained checkpoint, and streaming state (ch. 8, 9)."""

import pytest
import torch

from rnn2transformer import train
from rnn2transformer.models.recurrent import RecurrentConfig, RecurrentModel
from rnn2transformer.models.transformer import TransformerConfig, TransformerModel
from rnn2transformer.training import count_parameters
from rnn2transformer.transfer import (
    freeze,
    pretrained,
    stages,
    swap_head,
    trainable_table,
    unfreeze,
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
