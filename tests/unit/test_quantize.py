"""Fixed-point quantization (``neurovae.export.quantize``): bit ranges and error bounds for all inputs (Hypothesis),
per-layer scales in the file, explicit scales, one-line errors, the export / CLI option. No Lava here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from neurovae.cli.main import main
from neurovae.export import (
    LOIHI,
    ExportError,
    FixedPointFormat,
    QuantizationError,
    export_model,
    format_report,
    quantize_network,
    quantize_with_report,
)
from neurovae.export.writers import READOUT_THRESHOLD
from neurovae.models.esvae import ESVAE, ESVAEConfig
from neurovae.netx import (
    ConvLayer,
    ConvTLayer,
    CubaNeuron,
    DenseLayer,
    FlattenLayer,
    InputLayer,
    NetworkRecord,
    NetxError,
    read_netx,
    write_netx,
)
from neurovae.simulate.fixed import optimize_weight_bits

EXPORT_SCALE = 64.0  # a float export's device units per training unit


def lava_effective_weights(weight: np.ndarray) -> np.ndarray:
    """What Lava's bit-accurate ``Dense`` multiplies by, for integer weights loaded the netx way.

    ``optimize_weight_bits`` (netx) shifts the weights left and sets ``weight_exp``; the model then clips to 8 bits
    and drops ``8 - num_weight_bits (+1 if mixed sign)`` low bits (``lava.utils.weightutils``), and scales the sum
    by ``2**weight_exp``.
    """
    shifted, bits, exp, sign_mode = optimize_weight_bits(weight)
    mixed = sign_mode == 1
    w = -shifted if sign_mode == 3 else shifted
    w = np.clip(w, -256 if mixed else 0, 255)
    drop = 8 - bits + int(mixed)
    w = (w >> drop) << drop
    w = -w if sign_mode == 3 else w
    return w * 2.0**exp


def dense_network(weight, bias, threshold, beta, encoding="spikes", readout=False) -> NetworkRecord:
    """A one-layer float network in device units of a float export (training units x 64)."""
    n_out, n_in = weight.shape
    neuron = CubaNeuron(iDecay=4096, vDecay=4096 * (1 - beta),
                        vThMant=READOUT_THRESHOLD if readout else threshold * EXPORT_SCALE)
    return NetworkRecord((InputLayer((n_in,)), DenseLayer(weight * EXPORT_SCALE, neuron, bias=bias * EXPORT_SCALE)),
                         input_encoding=encoding, readout="voltage" if readout else "spikes", steps=4)


magnitudes = st.sampled_from([1e-4, 0.01, 0.3, 1.0, 7.0, 300.0])
shapes = st.tuples(st.integers(1, 6), st.integers(1, 8))


@st.composite
def float_layers(draw):
    n_out, n_in = draw(shapes)
    w_mag, b_mag = draw(magnitudes), draw(magnitudes)
    unit = st.floats(-1, 1, allow_nan=False, allow_subnormal=False)
    weight = draw(arrays(np.float64, (n_out, n_in), elements=unit)) * w_mag
    bias = draw(arrays(np.float64, (n_out,), elements=unit)) * b_mag
    threshold = draw(st.floats(0.05, 2.0)) * max(w_mag, b_mag)
    beta = draw(st.floats(0.0, 1.0))
    return weight, bias, threshold, beta


@settings(max_examples=80, deadline=None)
@given(float_layers(), st.booleans(), st.booleans())
def test_quantized_parameters_are_whole_numbers_within_loihi_ranges(layer, direct, readout):
    weight, bias, threshold, beta = layer
    network = dense_network(weight, bias, threshold, beta, "direct" if direct else "spikes", readout)
    try:
        fixed, (row,) = quantize_with_report(network)
    except QuantizationError as error:  # only when nothing sets a scale: a readout with (about) zero weights
        largest = max(np.abs(weight).max(), np.abs(bias).max(initial=0))  # below 1e-300 counts as zero, as it says
        assert readout and largest < 1e-300 and "no nonzero weights" in str(error)
        return
    q = fixed.layers[1]
    for array in (q.weight, q.bias):
        assert np.array_equal(array, np.round(array))
    assert q.weight.min() >= -128 and q.weight.max() <= 127
    assert q.bias.min() >= -4096 and q.bias.max() <= 4095
    assert 1 <= q.neuron.vThMant <= (1 << 17) - 1 and float(q.neuron.vThMant).is_integer()
    assert q.neuron.iDecay == 4096 and 0 <= q.neuron.vDecay <= 4095 and float(q.neuron.vDecay).is_integer()
    assert fixed.precision == "fixed" and fixed.weight_scale == fixed.layer_scales[1] == row.scale

    scale = fixed.scale(1)
    assert np.all(np.abs(q.weight / scale - weight) <= 0.5 / scale * (1 + 1e-9))  # half a weight step
    bias_bound = (1.0 if direct else 0.5) / scale  # + half a unit: the direct-input offset
    assert np.all(np.abs(q.bias / scale - bias) <= bias_bound * (1 + 1e-9))
    if readout:
        assert q.neuron.vThMant == (1 << 17) - 1
    else:
        assert q.neuron.vThMant / scale == pytest.approx(threshold, rel=1e-9)  # thresholds are exact
    assert abs(q.neuron.vDecay - 4096 * (1 - beta)) <= (1.0 if beta < 1 / 8192 else 0.5)  # 4096 -> 4095
    assert row.weight_error <= 0.5 + 1e-9 and row.threshold_error <= 1e-9
    # the scale is as large as the limits allow: some parameter uses its range (weights: within one threshold step)
    assert row.limited_by in ("weights", "bias", "threshold")


def _negative_power_of_two_minimum(weight: np.ndarray) -> bool:
    low = int(-weight.min())
    return weight.max() <= 0 and low & (low - 1) == 0


@settings(max_examples=100, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=st.integers(-128, 127)))
def test_lava_keeps_every_bit_of_8_bit_weights(weight):
    """8-bit weights survive netx's packing and Lava's even-weight truncation (but see the quirk below)."""
    if not weight.any() or _negative_power_of_two_minimum(weight):
        return
    np.testing.assert_array_equal(lava_effective_weights(weight), weight)


def test_lava_quirk_all_negative_weights_with_a_power_of_two_minimum():
    """Netx scales such a minimum to -256, which Lava's 8-bit clip turns into -255 before dropping low bits
    (checked against Lava itself in tests/parity/test_quantization.py). Trained layers have mixed signs."""
    np.testing.assert_array_equal(lava_effective_weights(np.array([[-128, -3]])), [[-127, -3]])
    np.testing.assert_array_equal(lava_effective_weights(np.array([[-2]])), [[0]])


@settings(max_examples=100, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=st.integers(-256, 255)))
def test_wider_mixed_sign_weights_lose_at_most_one_step_in_lava(weight):
    """Beyond 8 bits Lava drops (or netx clips away) the lowest bit of mixed-sign weights: hence the 8-bit range."""
    if not (weight.max() > 0 > weight.min()):
        return
    assert np.max(np.abs(lava_effective_weights(weight) - weight)) <= 1


def test_quantization_is_pure():
    rng = np.random.default_rng(0)
    network = dense_network(rng.normal(size=(4, 5)), rng.normal(size=4) * 0.1, 0.2, 0.25)
    copy = dataclasses.replace(network)
    fixed = quantize_network(network)
    assert network == copy and network.precision == "float" and network.layer_scales is None
    assert fixed is not network and fixed.layers[1] is not network.layers[1]
    assert quantize_network(network) == fixed  # deterministic


def test_per_layer_scales_and_readout_scale_are_stored_and_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    neuron = CubaNeuron(vDecay=3072, vThMant=0.2 * EXPORT_SCALE)
    network = NetworkRecord((
        InputLayer((2, 6, 6)),
        ConvLayer(rng.normal(size=(3, 2, 3, 3)) * 0.5 * EXPORT_SCALE, neuron, (3, 3, 3), stride=(2, 2),
                  padding=(1, 1), bias=rng.normal(size=3) * EXPORT_SCALE * 0.05),
        FlattenLayer((27, 1, 1)),
        DenseLayer(rng.normal(size=(5, 27)) * 0.05 * EXPORT_SCALE, neuron, shape=(5, 1, 1)),
        ConvTLayer(rng.normal(size=(5, 1, 3, 3)) * 2 * EXPORT_SCALE,
                   CubaNeuron(vDecay=819.2, vThMant=READOUT_THRESHOLD), (1, 2, 2), stride=(2, 2), padding=(1, 1)),
    ), steps=5, readout="voltage", input_encoding="direct")
    fixed, rows = quantize_with_report(network)
    scales = fixed.layer_scales
    assert scales[0] == scales[2] == 0 and len({scales[1], scales[3], scales[4]}) == 3
    assert fixed.weight_scale == scales[4]  # what a voltage readout is divided by
    assert [r.index for r in rows] == [1, 3, 4] and rows[-1].readout
    assert "readout" in format_report(rows) and "convT" in format_report(rows)
    path = write_netx(fixed, tmp_path / "fixed.net")
    again = read_netx(path)
    assert again == fixed and again.layer_scales == scales and again.precision == "fixed"
    # device units / layer scale = training units, layer by layer
    np.testing.assert_allclose(again.layers[3].weight / again.scale(3), network.layers[3].weight / EXPORT_SCALE,
                               atol=0.5 / again.scale(3) + 1e-12)


def test_an_explicit_scale_is_used_for_every_layer_or_refused_naming_the_layer():
    rng = np.random.default_rng(2)
    network = dense_network(rng.uniform(-1, 1, (3, 4)), np.array([0.1, -0.2, 70.0]), 0.5, 0.25)
    fixed = quantize_network(network, scale=50)
    assert fixed.layer_scales is None and fixed.weight_scale == 50
    assert fixed.layers[1].neuron.vThMant == 25
    with pytest.raises(QuantizationError) as error:
        quantize_network(network, scale=64)  # bias 70 x 64 = 4480 > 4095
    message = str(error.value)
    assert "\n" not in message and "layer 1 (dense)" in message and "bias" in message and "13-bit" in message
    assert "--weight-scale" in message
    with pytest.raises(QuantizationError, match=r"layer 1 .*a weight of -?\d+ device units at scale 200 is beyond"):
        quantize_network(network, scale=200)
    with pytest.raises(QuantizationError, match="threshold rounds to 0 .* larger --weight-scale"):
        quantize_network(network, scale=0.5)
    with pytest.raises(QuantizationError, match="positive"):
        quantize_network(network, scale=0)


def test_automatic_scales_give_way_to_a_large_bias():
    network = dense_network(np.array([[0.5, -0.25]]), np.array([100.0]), 0.2, 0.25)
    fixed, (row,) = quantize_with_report(network)
    assert row.limited_by == "bias" and fixed.layers[1].bias[0] <= 4095
    assert row.weight_max < 127  # the weights pay with precision


@pytest.mark.parametrize(("build", "fragment"), [
    (lambda: dense_network(np.zeros((2, 3)), np.zeros(2), 0.2, 0.2, readout=True), "no nonzero weights"),
    (lambda: dense_network(np.array([[3e6, -1.0]]), np.zeros(1), 1e-3, 0.2), "threshold 0.001 rounds to 0"),
    (lambda: NetworkRecord((InputLayer((2,)), DenseLayer(np.ones((1, 2)), CubaNeuron(iDecay=0.2)))),
     "iDecay=0.2 rounds to 0"),
])
def test_unrepresentable_layers_give_one_line_errors(build, fragment):
    with pytest.raises(QuantizationError) as error:
        quantize_network(build())
    assert fragment in str(error.value) and "\n" not in str(error.value) and "layer 1" in str(error.value)


def test_formats_are_checked():
    assert LOIHI.weight_range == (-128, 127) and LOIHI.bias_range == (-4096, 4095)
    assert LOIHI.threshold_max == 131071 and LOIHI.decay_max == 4095 and LOIHI.current_max == 2**17
    with pytest.raises(QuantizationError, match="weight_bits=9"):
        FixedPointFormat(weight_bits=9)
    narrow = quantize_network(dense_network(np.array([[1.0, -0.5]]), np.zeros(1), 0.3, 0.5),
                              fmt=FixedPointFormat(weight_bits=4))
    assert np.abs(narrow.layers[1].weight).max() <= 8


def test_layer_scales_validate_themselves():
    layers = (InputLayer((2,)), DenseLayer(np.ones((1, 2)), CubaNeuron()))
    with pytest.raises(NetxError, match="one per layer"):
        NetworkRecord(layers, layer_scales=(1.0,))
    with pytest.raises(NetxError, match="must be the readout layer's"):
        NetworkRecord(layers, layer_scales=(0.0, 3.0))
    with pytest.raises(NetxError, match="positive"):
        NetworkRecord(layers, weight_scale=1.0, layer_scales=(0.0, 0.0))


# ------------------------------------------------------------------------------------------------ export and CLI


TINY = ESVAEConfig(in_channels=1, image_size=8, channels=(4, 6), latent_dim=10, steps=6)


def test_fixed_export_of_an_esvae_leaves_the_model_alone():
    torch.manual_seed(0)
    model = ESVAE(TINY).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for part in ("encoder", "decoder"):
        fixed = export_model(model, part, precision="fixed")
        assert fixed.precision == "fixed" and fixed.layer_scales is not None
        assert fixed.weight_scale == fixed.layer_scales[fixed.spiking_layers[-1]]
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ExportError, match="precision='fixed'"):
        export_model(model, "decoder", scale=64)
    with pytest.raises(ExportError, match="precision='double'"):
        export_model(model, "decoder", precision="double")
    with pytest.raises(ExportError, match="decoder: layer"):
        export_model(model, "decoder", precision="fixed", scale=1e6)


def test_cli_exports_fixed_point_with_a_report(capsys, tiny_run, tmp_path):
    out = tmp_path / "q"
    assert main(["export", "--lava", str(tiny_run), "--part", "full", "-o", str(out), "--precision", "fixed"]) == 0
    printed = capsys.readouterr().out
    assert "set by" in printed and "precision fixed" in printed
    for part in ("encoder", "decoder"):
        network = read_netx(tmp_path / f"q-{part}.net")
        assert network.precision == "fixed" and network.layer_scales is not None
    assert main(["export", "--lava", str(tiny_run), "-o", str(tmp_path / "f.net")]) == 0
    assert read_netx(tmp_path / "f.net").precision == "float"


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--weight-scale", "64"], "add --precision fixed"),
    (["--precision", "fixed", "--weight-scale", "1e6"], "decoder: layer 1 (dense)"),
])
def test_cli_export_errors_are_one_line(capsys, tiny_run, tmp_path, extra, fragment):
    code = main(["export", "--lava", str(tiny_run), "-o", str(tmp_path / "x.net"), *extra])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("neurovae: error: ") and fragment in err[0]
    assert not (tmp_path / "x.net").exists()
