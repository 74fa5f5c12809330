import math
import re
import warnings
from dataclasses import FrozenInstanceError, fields

import pytest
import torch
from torch import nn

from rnn2transformer import train
from rnn2transformer.models.mlp import MLP, MLPConfig
from rnn2transformer.synthetic import (
    adding_batches,
    copy_memory_batches,
    draws_on_device,
    make_spirals,
)
from rnn2transformer.training import (
    AUTOCAST_MIN_PARAMETERS,
    Batches,
    RunSettings,
    accuracy,
    count_parameters,
    evaluate,
    learning_rate,
    make_optimizer,
    train_val_split,
    use_autocast,
)


class LinearRegression(nn.Module):
    def __init__(self, n_in: int = 3) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, 1)

    def forward(self, x, targets=None):
        out = self.linear(x).squeeze(-1)
        loss = None if targets is None else ((out - targets) ** 2).mean()
        return out, loss


def regression_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([1.5, -2.0, 0.5]) + 0.3
    return x, y


def test_loss_falls_on_a_tiny_problem():
    torch.manual_seed(0)
    history = train(LinearRegression(), regression_data(), steps=200, lr=0.05, eval_every=20,
                    val_data=regression_data(64, seed=1))
    assert list(history.columns[:5]) == ["step", "epoch", "lr", "train_loss", "grad_norm"]
    assert history["step"].tolist() == list(range(20, 201, 20))
    assert history["val_loss"].iloc[-1] < 0.01 * history["val_loss"].iloc[0]
    assert history["elapsed_s"].is_monotonic_increasing


def test_classifier_learns_spirals_and_reports_accuracy():
    x, y = make_spirals(200, seed=0)
    (xt, yt), val = train_val_split(x, y, val_fraction=0.25, seed=0)
    torch.manual_seed(0)
    history = train(MLP(MLPConfig(hidden_size=32)), (xt, yt), val_data=val, epochs=40,
                    lr=1e-2, metrics={"accuracy": accuracy})
    assert history["accuracy"].iloc[-1] > 0.85
    assert history["epoch"].iloc[-1] == pytest.approx(40)


def test_epochs_cover_every_example_once_per_epoch():
    seen = []

    class Spy(LinearRegression):
        def forward(self, x, targets=None):
            seen.append(x[:, 0].clone())
            return super().forward(x, targets)

    x, y = regression_data(50)
    train(Spy(), (x, y), epochs=2, batch_size=16, eval_every=1000)
    first_epoch = torch.cat(seen[:4])  # ceil(50 / 16) = 4 batches
    assert sorted(first_epoch.tolist()) == sorted(x[:, 0].tolist())


def batch_function(x, y, fail_at=None):
    calls = {"n": 0}

    def draw(generator):
        calls["n"] += 1
        if fail_at is not None and calls["n"] == fail_at:
            raise KeyboardInterrupt("simulated interruption")
        index = torch.randint(0, len(x), (32,), generator=generator)
        return x[index], y[index]

    return draw


@pytest.mark.parametrize("source", ["tensors", "function"])
def test_interrupted_run_resumes_to_identical_weights(tmp_path, source):
    x, y = regression_data()
    settings = dict(steps=40, lr=0.02, eval_every=10, checkpoint_every=5, seed=3)

    def data(fail_at=None):
        if source == "tensors":
            return (x, y)
        return batch_function(x, y, fail_at)

    torch.manual_seed(0)
    reference = LinearRegression()
    reference_history = train(reference, data(), **settings)

    # The same run, interrupted at step 23 and started again from its checkpoint.
    checkpoint = tmp_path / "run.pt"
    torch.manual_seed(0)
    interrupted = LinearRegression()
    if source == "tensors":
        class Interrupt(Exception):
            pass

        def stop(step, model):
            if step == 20:
                raise Interrupt

        with pytest.raises(Interrupt):
            train(interrupted, data(), checkpoint=checkpoint, callback=stop, **settings)
    else:
        with pytest.raises(KeyboardInterrupt):
            train(interrupted, data(fail_at=24), checkpoint=checkpoint, **settings)
    assert checkpoint.exists()

    torch.manual_seed(99)  # a fresh model with other weights: all must come from the file
    resumed = LinearRegression()
    resumed_history = train(resumed, data(), checkpoint=checkpoint, **settings)

    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert resumed_history["train_loss"].tolist() == reference_history["train_loss"].tolist()


def test_finished_run_is_returned_from_its_checkpoint(tmp_path):
    checkpoint = tmp_path / "done.pt"
    torch.manual_seed(0)
    first = train(LinearRegression(), regression_data(), steps=20, checkpoint=checkpoint)
    torch.manual_seed(1)
    model = LinearRegression()
    again = train(model, regression_data(), steps=20, checkpoint=checkpoint)
    assert again["train_loss"].tolist() == first["train_loss"].tolist()
    assert again["elapsed_s"].tolist() == first["elapsed_s"].tolist()  # nothing was rerun


def test_corrupt_checkpoint_is_retrained_with_a_message(tmp_path):
    checkpoint = tmp_path / "broken.pt"
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="could not be read.*training from scratch"):
        history = train(LinearRegression(), regression_data(), steps=10, checkpoint=checkpoint)
    assert len(history) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.load(checkpoint, weights_only=False)  # now a real checkpoint


def test_two_writers_of_one_checkpoint_do_not_replace_each_others_file(tmp_path, monkeypatch):
    # Two notebooks launched at once may train the same run into one cache folder. Here the
    # second writer saves and replaces the file while the first is between its write and its
    # replace (the interleaving that failed CI when both wrote one shared "<name>.tmp").
    from rnn2transformer import checkpoint as module

    path = tmp_path / "shared.pt"
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    real_save, calls = torch.save, []

    class NoRanks:
        def state(self):
            return {}

    def save_with_a_rival(state, file):
        real_save(state, file)
        if not calls:
            calls.append(file)
            rival.save(model, optimizer, NoRanks(), step=2, history=[], elapsed_s=0.0)

    first = module.Checkpoint(path, {"who": "first"}, every=1)
    rival = module.Checkpoint(path, {"who": "first"}, every=1)
    monkeypatch.setattr(module.torch, "save", save_with_a_rival)
    first.save(model, optimizer, NoRanks(), step=1, history=[], elapsed_s=0.0)
    assert torch.load(path, weights_only=False)["step"] == 1  # the later replace wins
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.pt"]  # no temporary left
    plain = tmp_path / "plain"
    plain.write_bytes(b"")  # a file as the umask makes it: a shared cache stays readable
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_checkpoint_from_other_settings_is_not_resumed(tmp_path):
    checkpoint = tmp_path / "run.pt"
    train(LinearRegression(), regression_data(), steps=10, checkpoint=checkpoint)
    with pytest.warns(UserWarning, match="other settings"):
        train(LinearRegression(), regression_data(), steps=10, lr=0.5, checkpoint=checkpoint)


# One changed value for every field of RunSettings (the base run below is SGD with momentum,
# 10 steps, evaluated at the end): each must make a finished run's checkpoint train again.
CHANGED = dict(steps=12, epochs=None, batch_size=32, lr=0.04, optimizer="adam", momentum=0.5,
               weight_decay=0.1, warmup_steps=3, schedule="cosine", clip_grad_norm=1.0,
               eval_every=5, mixed_precision=False, seed=1)


def test_every_run_setting_has_a_changed_value_to_test():
    # a setting added to RunSettings is fingerprinted by itself; this makes it tested too
    assert set(CHANGED) == {f.name for f in fields(RunSettings)}


# epochs is resolved into steps before the fingerprint (the test after this one)
@pytest.mark.parametrize("name", [name for name in CHANGED if name != "epochs"])
def test_a_resumed_run_whose_settings_changed_retrains(tmp_path, name):
    # a finished run's checkpoint is returned as it is, unless a setting that changes what the
    # run computes differs: then the run is trained again (it once carried on silently)
    checkpoint = tmp_path / "run.pt"
    base = dict(steps=10, eval_every=10, optimizer="sgd", lr=0.05)
    first = train(LinearRegression(), regression_data(), checkpoint=checkpoint, **base)
    same = train(LinearRegression(), regression_data(), checkpoint=checkpoint, **base)
    assert same.equals(first)  # resumed: the finished run, as it was
    with pytest.warns(UserWarning, match="other settings"):
        again = train(LinearRegression(), regression_data(), checkpoint=checkpoint,
                      **{**base, name: CHANGED[name]})
    assert again.step.iloc[-1] == (CHANGED["steps"] if name == "steps" else 10)  # to the end


def test_epochs_are_fingerprinted_as_the_steps_they_make(tmp_path):
    # 4 epochs of one batch each are the 4 steps a steps=4 run takes, the same batches in the
    # same order: the run is resumed (the finished run comes back); 5 epochs are not
    checkpoint = tmp_path / "run.pt"
    x, y = regression_data()
    first = train(LinearRegression(), (x, y), steps=4, batch_size=len(x), checkpoint=checkpoint)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = train(LinearRegression(), (x, y), epochs=4, batch_size=len(x),
                     checkpoint=checkpoint)
    assert same.equals(first)
    with pytest.warns(UserWarning, match="other settings"):
        train(LinearRegression(), (x, y), epochs=5, batch_size=len(x), checkpoint=checkpoint)


@pytest.mark.parametrize("bad, message", [
    (dict(steps=0), "steps must be an int >= 1"), (dict(steps=None), "exactly one of steps"),
    (dict(epochs=2), "exactly one of steps"), (dict(batch_size=1.5), "batch_size must be an int"),
    (dict(lr=[1e-3, 1e-2]), "train one model per rate"), (dict(optimizer="lion"), "optimizer"),
    (dict(momentum=-0.1), "momentum must be >= 0"), (dict(schedule="step"), "schedule"),
    (dict(clip_grad_norm=0), "clip_grad_norm must be > 0"),
    (dict(mixed_precision="bf16"), "mixed_precision must be True, False or 'auto'"),
    (dict(mixed_precision=1), "mixed_precision must be True, False or 'auto'"),  # once read as auto
    (dict(seed=-1), "seed must be an int >= 0"), (dict(eval_every=0), "eval_every")])
def test_run_settings_refuse_bad_values_at_once(bad, message):
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        RunSettings(**{"steps": 10, **bad})


def test_run_settings_are_frozen():
    run = RunSettings(steps=10)
    with pytest.raises(FrozenInstanceError):
        run.lr = 1.0


def test_clipping_records_the_norm_before_clipping():
    x, y = regression_data()
    torch.manual_seed(0)
    unclipped = train(LinearRegression(), (x, y * 100), steps=1, eval_every=1)
    torch.manual_seed(0)
    model = LinearRegression()
    clipped = train(model, (x, y * 100), steps=1, eval_every=1, clip_grad_norm=1e-3,
                    optimizer="sgd", momentum=0.0, lr=1.0)
    assert clipped["grad_norm"].iloc[0] == pytest.approx(unclipped["grad_norm"].iloc[0])
    torch.manual_seed(0)
    start = LinearRegression()
    moved = torch.cat([(a - b).flatten() for a, b in
                       zip(model.parameters(), start.parameters(), strict=True)]).norm()
    assert moved.item() == pytest.approx(1e-3, rel=1e-3)  # lr 1 * clipped norm


def test_training_stops_at_a_non_finite_loss():
    x, y = regression_data()
    history = train(LinearRegression(), (x, y * 1e3), steps=200, optimizer="sgd", lr=10.0,
                    momentum=0.0, eval_every=1)
    assert len(history) < 200
    assert not math.isfinite(history["train_loss"].iloc[-1])


def test_cosine_schedule_warms_up_and_decays():
    lrs = [learning_rate(s, lr=1.0, total_steps=100, warmup_steps=10, schedule="cosine")
           for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and lrs[-1] < 0.01


def test_evaluate_averages_over_batches():
    x, y = regression_data(100)
    model = LinearRegression()
    whole = evaluate(model, (x, y), batch_size=1000)["loss"]
    batched = evaluate(model, (x, y), batch_size=7)["loss"]
    assert batched == pytest.approx(whole, rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "exactly one of steps or epochs"),
        (dict(steps=10, epochs=1), "exactly one of steps or epochs"),
        (dict(steps=0), "steps must be an int >= 1, got 0"),
        (dict(steps=10, lr=-1), "lr must be > 0.0, got -1.0"),
        (dict(steps=10, optimizer="adagrad"), "optimizer must be one of .* 'adagrad'"),
        (dict(steps=10, batch_size=2.5), "batch_size must be an int, got 2.5"),
        (dict(steps=10, clip_grad_norm=0), "clip_grad_norm must be > 0.0"),
        (dict(steps=10, schedule="linear"), "schedule must be one of"),
    ],
)
def test_bad_arguments_name_what_was_expected(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        train(LinearRegression(), regression_data(), **kwargs)


def test_bad_data_is_rejected_with_its_shape():
    x, y = regression_data()
    with pytest.raises(ValueError, match="same, non-zero length, got 256 and 10"):
        train(LinearRegression(), (x, y[:10]), steps=1)
    with pytest.raises(TypeError, match="pair .* of tensors"):
        train(LinearRegression(), [x], steps=1)
    with pytest.raises(ValueError, match="epochs needs train_data as tensors"):
        train(LinearRegression(), batch_function(x, y), epochs=1)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train("model", (x, y), steps=1)


def test_frozen_model_is_refused():
    model = LinearRegression().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        train(model, regression_data(), steps=1)


def test_train_val_split_is_a_seeded_partition():
    x = torch.arange(10).float().unsqueeze(1)
    y = torch.arange(10)
    (xt, yt), (xv, yv) = train_val_split(x, y, val_fraction=0.3, seed=1)
    assert len(xv) == 3 and len(xt) == 7
    assert sorted(torch.cat([yt, yv]).tolist()) == list(range(10))
    again = train_val_split(x, y, val_fraction=0.3, seed=1)
    assert torch.equal(again[1][1], yv)
    with pytest.raises(ValueError, match="empty part"):
        train_val_split(x, y, val_fraction=0.01)


def test_optimizers_run_fused_only_on_cuda():
    params = [nn.Parameter(torch.zeros(3))]
    cpu_adam = make_optimizer("adam", params, lr=1e-3, device=torch.device("cpu"))
    assert not cpu_adam.defaults.get("fused")  # the CPU keeps PyTorch's default path
    cuda_adam = make_optimizer("adamw", params, lr=1e-3, device=torch.device("cuda"))
    assert cuda_adam.defaults["fused"] is True  # built lazily: no GPU needed to construct
    cuda_sgd = make_optimizer("sgd", params, lr=1e-3, device=torch.device("cuda"))
    assert cuda_sgd.defaults["foreach"] is True
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("lion", params, lr=1e-3)


def test_precision_policy_uses_bf16_only_for_large_models_on_cuda():
    small, large = nn.Linear(10, 10), nn.Linear(2000, 1000)
    assert count_parameters(large) >= AUTOCAST_MIN_PARAMETERS > count_parameters(small)
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert not use_autocast(small, cuda, "auto") and use_autocast(large, cuda, "auto")
    assert use_autocast(small, cuda, True) and not use_autocast(large, cuda, False)
    assert not use_autocast(large, cpu, True)  # never off CUDA
    with pytest.raises(ValueError, match="mixed_precision must be True, False or 'auto'"):
        use_autocast(small, cuda, "bf16")


def test_train_hands_marked_and_plain_batch_functions_a_generator_every_step():
    seen = []

    @draws_on_device
    def marked(generator):
        seen.append(("marked", generator.device.type))
        return torch.randn(4, 3, generator=generator), torch.randn(4, generator=generator)

    def plain(generator):
        seen.append(("plain", generator.device.type))
        return torch.randn(4, 3, generator=generator), torch.randn(4, generator=generator)

    for fn in (marked, plain):
        train(LinearRegression(), fn, steps=2, device="cpu", progress=False)
    assert seen == [("marked", "cpu")] * 2 + [("plain", "cpu")] * 2
    for draw in (adding_batches(6, batch_size=4), copy_memory_batches(3, batch_size=4)):
        assert draw.draws_on_device


def test_only_a_marked_batch_function_gets_its_generator_on_the_training_device(monkeypatch):
    """On a CPU both generators are CPU ones, so the choice is checked where it is made: the
    generator Batches asks for, for a run on a (pretended) GPU."""
    asked, real = [], torch.Generator
    marked, plain = adding_batches(6, batch_size=4), lambda g: (torch.zeros(4, 3), torch.zeros(4))

    def recording(device="cpu"):
        asked.append(torch.device(device).type)
        return real()  # a CPU generator: nothing is drawn here

    monkeypatch.setattr(torch, "Generator", recording)
    for fn in (marked, plain):
        Batches(fn, batch_size=4, seed=0, device=torch.device("cuda"))
    Batches((torch.zeros(8, 3), torch.zeros(8)), batch_size=4, seed=0, device=torch.device("cpu"))
    assert asked == ["cuda", "cpu", "cpu"]  # marked, plain, tensors


