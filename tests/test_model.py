"""engine/model.py: ModelConfig validation and sizes, the memory check, WordRNN.forward and step()."""

import math

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine import CELLS, MAX_PARAMS, ModelConfig, NeuralLM, Vocab, WordRNN, check_fits, parameter_shapes
from engine.stepper import Stepper


def real_param_count(model: WordRNN) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() lists a tied weight once


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    "shape",
    [
        {"emb": 8, "hidden": 8, "layers": 1, "tied": True},
        {"emb": 8, "hidden": 8, "layers": 3, "tied": True},
        {"emb": 6, "hidden": 10, "layers": 1, "tied": False},
        {"emb": 6, "hidden": 10, "layers": 2, "tied": False},
        {"emb": 12, "hidden": 5, "layers": 3, "tied": False},
    ],
)
def test_param_count_equals_the_real_count(cell, shape):
    config = ModelConfig(cell=cell, vocab_size=17, dropout=0.0, **shape)
    model = WordRNN(config)
    assert config.param_count() == model.param_count() == real_param_count(model)
    # the table of shapes is the built model's, name for name, in parameters() order
    assert parameter_shapes(config) == {name: tuple(p.shape) for name, p in model.named_parameters()}


def test_param_count_by_hand():
    # LSTM, vocab 10, emb = hidden = 4, one layer, tied:
    # embedding 10*4 = 40; LSTM 4 gates * 4 * (4 + 4) + 2 biases * 4 * 4 = 128 + 32 = 160;
    # decoder bias 10 (its weight is the embedding): 40 + 160 + 10 = 210
    assert ModelConfig(cell="lstm", vocab_size=10, emb=4, hidden=4, tied=True).param_count() == 210
    # untied adds the decoder weight 10*4
    assert ModelConfig(cell="lstm", vocab_size=10, emb=4, hidden=4, tied=False).param_count() == 250


@pytest.mark.parametrize(
    "settings",
    [
        {"hidden": 0, "tied": False},
        {"hidden": -1, "tied": False},
        {"hidden": 10**9, "tied": False},
        {"emb": 10**9, "hidden": 10**9},
        {"emb": 0, "hidden": 0},
        {"emb": -5, "hidden": -5},
        {"layers": 0},
        {"layers": 9},
        {"layers": 10**6},
        {"vocab_size": 2},
        {"vocab_size": 10**12},
        {"dropout": 1.0},
        {"dropout": 1.5},
        {"dropout": -0.1},
        {"dropout": math.nan},
        {"dropout": True},
        {"cell": "transformer"},
        {"cell": "LSTM"},
        {"emb": 16, "hidden": 32, "tied": True},
        {"hidden": 16.0, "emb": 16.0},
        {"hidden": True, "tied": False},
        {"tied": "yes"},
        # every single limit is fine, but together: 2M * 8192 embedding alone is 16e9 parameters
        {"vocab_size": 2_000_000, "emb": 8192, "hidden": 8192},
    ],
)
def test_absurd_settings_are_refused_before_allocation(settings, monkeypatch):
    config = ModelConfig(**{"vocab_size": 50, "emb": 16, "hidden": 16, **settings})
    with pytest.raises(ConfigError):
        config.validate()

    def no_allocation(*args, **kwargs):
        raise AssertionError("a layer was allocated before the settings were checked")

    monkeypatch.setattr(torch.nn.Embedding, "__init__", no_allocation)
    with pytest.raises(ConfigError):
        WordRNN(config)


def test_too_many_parameters_message_names_the_count():
    config = ModelConfig(vocab_size=2_000_000, emb=512, hidden=512)
    assert config.param_count() > MAX_PARAMS
    with pytest.raises(ConfigError) as err:
        config.validate()
    assert f"{config.param_count():,}" in str(err.value)


def test_sensible_settings_are_accepted():
    ModelConfig(cell="gru", vocab_size=20_000, emb=256, hidden=256, layers=2, dropout=0.3).validate()
    ModelConfig(cell="rnn", vocab_size=3, emb=1, hidden=1, dropout=0.0).validate()


def test_check_fits_refuses_a_model_too_big_for_this_machine():
    config = ModelConfig(vocab_size=1_000_000, emb=64, hidden=64)
    config.validate()  # fine as a model ...
    with pytest.raises(ConfigError) as err:
        check_fits(config, batch_size=4096, bptt=2048)  # ... but its activations would need ~100 TB
    assert "memory" in str(err.value)
    check_fits(ModelConfig(vocab_size=100, emb=16, hidden=16), batch_size=20, bptt=35)


def test_check_fits_compares_with_half_the_machine_memory(monkeypatch):
    import engine.config

    config = ModelConfig(vocab_size=10_000, emb=64, hidden=64)
    need = config.training_bytes(20, 35)
    monkeypatch.setattr(engine.config, "available_memory", lambda: 2 * need + 2)
    check_fits(config, 20, 35)
    monkeypatch.setattr(engine.config, "available_memory", lambda: 2 * need - 2)
    with pytest.raises(ConfigError):
        check_fits(config, 20, 35)


@pytest.mark.parametrize("cell", CELLS)
def test_forward_shapes(cell):
    config = ModelConfig(cell=cell, vocab_size=11, emb=6, hidden=6, layers=2)
    model = WordRNN(config)
    logits, hidden = model(torch.zeros(5, 3, dtype=torch.long), model.init_hidden(3))
    assert logits.shape == (5, 3, 11)
    hs = hidden if isinstance(hidden, tuple) else (hidden,)
    assert len(hs) == (2 if cell == "lstm" else 1)
    assert all(h.shape == (2, 3, 6) for h in hs)


def test_tied_weights_are_shared():
    model = WordRNN(ModelConfig(vocab_size=11, emb=6, hidden=6, tied=True))
    assert model.decoder.weight is model.embed.weight
    untied = WordRNN(ModelConfig(vocab_size=11, emb=6, hidden=6, tied=False))
    assert untied.decoder.weight is not untied.embed.weight


def _stepped_and_batched(cell, tied, layers, output_dtype):
    torch.manual_seed(1)
    config = ModelConfig(cell=cell, vocab_size=13, emb=8, hidden=8 if tied else 10, layers=layers, tied=tied, dropout=0.5)
    model = WordRNN(config).eval()  # eval: dropout (0.5 here) must be off in both paths
    with torch.no_grad():  # make the weights large enough for the test to notice mistakes
        for name, p in model.rnn.named_parameters():
            p.uniform_(-0.8, 0.8)
        model.decoder.bias.uniform_(-1, 1)
    ids = torch.tensor([1, 5, 2, 12, 7, 7, 3, 0, 9])
    with torch.no_grad():
        batched, final = model(ids.unsqueeze(1), model.init_hidden(1))
    stepper = Stepper(model, output_dtype)
    state = stepper.start()
    stepped = []
    for token in ids.tolist():
        logits, state = stepper(token, state)
        assert logits.shape == (13,) and logits.dtype == torch.float32
        stepped.append(logits)
    return torch.stack(stepped), state, batched[:, 0], final


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("tied, layers", [(True, 1), (False, 2), (True, 3)])
def test_stepper_gives_the_same_logits_and_state_as_the_batched_forward(cell, tied, layers):
    stepped, state, batched, final = _stepped_and_batched(cell, tied, layers, torch.float32)
    torch.testing.assert_close(stepped, batched, rtol=1e-5, atol=1e-5)
    if cell == "lstm":
        final_h, final_c = final
        torch.testing.assert_close(torch.cat([h for h, _ in state]), final_h[:, 0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(torch.cat([c for _, c in state]), final_c[:, 0], rtol=1e-5, atol=1e-5)
    else:
        torch.testing.assert_close(torch.cat(state), final[:, 0], rtol=1e-5, atol=1e-5)
    # and the state really carries information: the logits differ between time steps
    assert not torch.allclose(batched[-1], batched[-2])


@pytest.mark.parametrize("cell", CELLS)
def test_stepper_with_a_bf16_output_layer_stays_within_bf16_rounding(cell):
    stepped, _, batched, _ = _stepped_and_batched(cell, False, 2, torch.bfloat16)
    # bf16 keeps 8 significant bits: the weights and the logits are each rounded by at most 2^-9
    torch.testing.assert_close(stepped, batched, rtol=2**-7, atol=2**-7)
    assert not torch.equal(stepped, batched)  # the bf16 copy really is what was read


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 3e-2)])
def test_forward_with_targets_is_the_cross_entropy_of_its_logits(cell, dtype, tol):
    torch.manual_seed(0)
    model = WordRNN(ModelConfig(cell=cell, vocab_size=23, emb=8, hidden=8, layers=2, dropout=0.0)).eval()
    ids, targets = torch.randint(0, 23, (6, 3)), torch.randint(0, 23, (6, 3))
    logits, hidden = model(ids, model.init_hidden(3))
    loss, fused_hidden = model(ids, model.init_hidden(3), targets, dtype)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 23), targets.reshape(-1))
    torch.testing.assert_close(loss, expected, rtol=tol, atol=tol)
    for h, fused in zip(hidden if cell == "lstm" else (hidden,), fused_hidden if cell == "lstm" else (fused_hidden,)):
        assert fused.dtype == torch.float32
        torch.testing.assert_close(fused, h, rtol=tol, atol=tol)
    loss.backward()  # the loss trains every layer
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_neural_lm_runs_the_output_layer_only_for_a_distribution_asked_for():
    torch.manual_seed(0)
    vocab = Vocab.build([f"w{i}" for i in range(20)], min_freq=1, max_vocab=100)
    model = WordRNN(ModelConfig(cell="gru", vocab_size=len(vocab), emb=8, hidden=8, dropout=0.0))
    lm = NeuralLM(model, vocab, output_dtype=torch.float32)
    ids = [5, 7, 2, 9]
    states = [lm.start()]
    for token in ids:
        states.append(lm.advance(states[-1], token))
    assert all(state.probs is None for state in states)  # the cells only, token by token
    last = lm.next_probs(states[-1])
    assert lm.next_probs(states[-1]) is last  # computed once, kept on the state
    assert all(state.probs is None for state in states[:-1])
    with torch.no_grad():
        logits, _ = model(torch.tensor([1, *ids]).unsqueeze(1), model.init_hidden(1))
    np.testing.assert_allclose(last, torch.softmax(logits[-1, 0], 0).numpy(), rtol=1e-5, atol=1e-6)
