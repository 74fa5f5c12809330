"""One vocabulary across the package (the table in rnn2transformer/models/__init__.py): the
signatures of every model, config and batch factory are read, and a name that drifts fails."""

import dataclasses
import importlib
import inspect
import pkgutil

import pytest
from torch import nn

import rnn2transformer.models as models
from rnn2transformer import corpus, synthetic

MODEL_MODULES = [importlib.import_module(f"rnn2transformer.models.{m.name}")
                 for m in pkgutil.iter_modules(models.__path__)]
# Names the table replaces, and what to say instead.
DRIFT = {"seq_len": "length", "context": "max_len", "n_features": "vocab_size",
         "n_classes": "output_size", "vocab": "vocab_size", "source_vocab": "source_vocab_size",
         "target_vocab": "target_vocab_size", "ids": "x", "h": "state"}
# An encoder-decoder reads two sequences: its forward is (source, target), by design.
TWO_SEQUENCES = {"Seq2Seq"}


def defined_here(module, kind):
    return [obj for obj in vars(module).values()
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and kind(obj)]


MODULES = [cls for module in MODEL_MODULES
           for cls in defined_here(module, lambda c: issubclass(c, nn.Module))]
CONFIGS = [cls for module in MODEL_MODULES for cls in defined_here(module, dataclasses.is_dataclass)
           if cls.__name__.endswith("Config")]
FACTORIES = [getattr(module, name) for module in (synthetic, corpus) for name in dir(module)
             if name.endswith("_batches") or name.startswith("char_lm_")]


def test_the_conventions_cover_the_package():
    assert len(MODULES) >= 15 and len(CONFIGS) >= 6 and len(FACTORIES) >= 6


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.__name__)
def test_modules_use_the_shared_names(cls):
    names = [*inspect.signature(cls.__init__).parameters,
             *inspect.signature(cls.forward).parameters]
    for name in names:
        assert name not in DRIFT, f"{cls.__name__} says {name!r}; the package says {DRIFT[name]!r}"
    forward = list(inspect.signature(cls.forward).parameters)[1:]
    if "targets" in forward and cls.__name__ not in TWO_SEQUENCES:
        assert forward[:2] == ["x", "targets"], f"{cls.__name__}.forward{forward}"
    if forward[1:2] and cls.__name__.endswith(("RNN", "LSTM", "GRU", "Cell")):
        assert forward[1] == "state", f"{cls.__name__}.forward takes {forward[1]!r}, not state"


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_configs_use_the_shared_names_and_validate(cls):
    for field in dataclasses.fields(cls):
        assert field.name not in DRIFT, f"{cls.__name__}.{field.name}: say {DRIFT[field.name]!r}"
    assert "__post_init__" in vars(cls), f"{cls.__name__} validates nothing"
    required = {f.name: 10 for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
    ints = [f.name for f in dataclasses.fields(cls) if f.type in ("int", int)]
    if ints:  # a size of zero is refused, naming the field
        with pytest.raises(ValueError, match=ints[0]):
            cls(**{**required, ints[0]: 0})


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_batch_factories_take_batch_size_by_keyword_and_say_length(factory):
    parameters = inspect.signature(factory).parameters
    for name in parameters:  # a data function reads token ids: its input is ids, not x
        assert name not in DRIFT or name == "ids", (
            f"{factory.__name__} says {name!r}: say {DRIFT[name]!r}")
    if "batch_size" in parameters:
        assert parameters["batch_size"].kind is inspect.Parameter.KEYWORD_ONLY, factory.__name__
