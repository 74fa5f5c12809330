import pytest
import torch
import torch.nn.functional as F

from rnn2transformer.models.mlp import MLP, MLPConfig, delta_ratios, gradient_by_layer, predict_grid
from rnn2transformer.synthetic import make_spirals


def test_spirals_shapes_classes_and_seed():
    x, y = make_spirals(50, n_classes=3, seed=4)
    assert x.shape == (150, 2) and x.dtype == torch.float32
    assert y.shape == (150,) and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [50, 50, 50]
    assert torch.equal(make_spirals(50, n_classes=3, seed=4)[0], x)
    assert not torch.equal(make_spirals(50, n_classes=3, seed=5)[0], x)
    with pytest.raises(ValueError, match="n_classes must be an int >= 2, got 1"):
        make_spirals(10, n_classes=1)


def test_mlp_shapes_and_loss():
    model = MLP(MLPConfig(input_size=2, hidden_size=8, n_layers=3, output_size=4))
    x = torch.randn(5, 2)
    logits, loss = model(x)
    assert logits.shape == (5, 4) and loss is None
    _, loss = model(x, torch.tensor([0, 1, 2, 3, 0]))
    assert loss.ndim == 0 and loss.item() > 0
    assert len(model.hidden) == 3


def test_mlp_rejects_wrong_input():
    model = MLP(MLPConfig())
    with pytest.raises(ValueError, match=r"shape \(B, 2\), got \(4, 3\)"):
        model(torch.randn(4, 3))
    with pytest.raises(ValueError, match="activation must be one of"):
        MLPConfig(activation="swish")


@pytest.mark.parametrize("init, gain", [("xavier", 1.0), ("he", 2.0**0.5)])
def test_initialisations_have_the_textbook_variance(init, gain):
    torch.manual_seed(0)
    model = MLP(MLPConfig(input_size=512, hidden_size=512, n_layers=1, init=init))
    w = model.hidden[0].weight
    expected = gain**2 / 512 if init == "he" else 2 / (512 + 512)
    assert w.var().item() == pytest.approx(expected, rel=0.05)


def test_gradient_by_layer_matches_autograd_on_the_mean_loss():
    torch.manual_seed(0)
    model = MLP(MLPConfig(hidden_size=16, n_layers=4, activation="tanh"))
    x, y = make_spirals(20, seed=0)
    table = gradient_by_layer(model, x, y)
    _, loss = model(x, y)
    loss.backward()
    for i, layer in enumerate(model.hidden):
        assert table["weight_grad_norm"][i] == pytest.approx(layer.weight.grad.norm().item(),
                                                               rel=1e-4)
    assert table["layer"].tolist() == [1, 2, 3, 4]


def test_sigmoid_steps_never_exceed_the_quarter_bound():
    torch.manual_seed(0)
    model = MLP(MLPConfig(hidden_size=32, n_layers=6, activation="sigmoid", init="xavier"))
    x, y = make_spirals(64, seed=1)
    ratios = delta_ratios(model, x, y)  # (B, 5)
    bounds = torch.tensor(gradient_by_layer(model, x, y)["step_bound"].iloc[:-1].to_numpy())
    assert ratios.shape == (128, 5)
    assert (ratios <= bounds + 1e-6).all()
    # The 1/4 in the bound is the sigmoid's largest slope, reached at z = 0.
    z = torch.zeros(1, requires_grad=True)
    (slope,) = torch.autograd.grad(torch.sigmoid(z).sum(), z)
    assert slope.item() == pytest.approx(0.25)


def test_deep_sigmoid_gradient_vanishes_while_relu_he_does_not():
    x, y = make_spirals(64, seed=0)
    ratios = {}
    for activation, init in [("sigmoid", "default"), ("relu", "he")]:
        torch.manual_seed(0)
        table = gradient_by_layer(
            MLP(MLPConfig(hidden_size=64, n_layers=10, activation=activation, init=init)), x, y
        )
        ratios[activation] = table["delta_norm"].iloc[0] / table["delta_norm"].iloc[-1]
    assert ratios["sigmoid"] < 1e-5
    assert 0.1 < ratios["relu"] < 10


def test_predict_grid_covers_the_square():
    model = MLP(MLPConfig())
    grid = predict_grid(model, extent=1.0, resolution=5)
    assert grid.shape == (25, 3)
    assert grid["x1"].min() == -1.0 and grid["x2"].max() == 1.0
    assert grid["p"].between(0, 1).all()
    logits, _ = model(torch.tensor([[-1.0, -1.0]]))
    assert grid["p"].iloc[0] == pytest.approx(F.softmax(logits, -1)[0, 1].item(), rel=1e-5)
