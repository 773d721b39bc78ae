"""A printable summary of a netx network (what ``neurovae inspect`` shows).

Example:
    >>> print(describe(read_netx("model.net")))  # doctest: +SKIP
"""

from __future__ import annotations

from neurovae.netx.network import NetworkRecord

_COLUMNS = ("#", "type", "shape", "params", "neurons", "iDecay", "vDecay", "vThMant", "stock netx")


def _number(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{value:.6g}"


def describe(network: NetworkRecord) -> str:
    """Return a printable table of the network.

    One row per layer (type, CHW shape, parameter and neuron counts, neuron parameters and whether lava-dl's
    stock netx loader runs the layer), headed by totals and the file-level attributes.
    """
    rows = []
    stock = network.stock_layers
    for index, (layer, shape) in enumerate(zip(network.layers, network.shapes, strict=True)):
        neuron = getattr(layer, "neuron", None)
        decays = ("-", "-", "-") if neuron is None else (
            _number(neuron.iDecay), _number(neuron.vDecay), _number(neuron.vThMant)
        )
        rows.append((
            str(index), layer.type, "x".join(str(n) for n in shape), f"{layer.num_params:,}",
            f"{layer.num_neurons:,}" if layer.spiking else "-", *decays, "yes" if stock[index] else "no",
        ))
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i in (1, 2) else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                     strict=True)))

    params = sum(layer.num_params for layer in network.layers)
    neurons = sum(network.layers[i].num_neurons for i in network.spiking_layers)
    problems = network.stock_problems
    header = (
        f"netx network: {len(network.layers)} layers, {params:,} parameters, {neurons:,} neurons; "
        f"input {'x'.join(map(str, network.input_shape))} ({network.input_encoding}), "
        f"T={network.steps if network.steps is not None else '?'}, readout={network.readout}, "
        f"precision={network.precision}, weight scale={_number(network.weight_scale)}, "
        f"written by {'neurovae ' + network.neurovae_version if network.neurovae_version else 'another tool'}"
    )
    footer = "stock lava-dl netx runs every layer as it is" if not problems else "\n".join(
        ["stock lava-dl netx cannot run this file as it is (neurovae's lava and emulator backends can):"]
        + [f"  layer {i} ({network.layers[i].type}): {why}" for i, why in problems.items()]
        + (["  a fixed-point export (neurovae export --lava --precision fixed) has whole-number values"]
           if network.precision == "float" else []))
    table = [line(_COLUMNS), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)]
    if network.layer_scales is not None:
        scales = ", ".join(f"{i}: {_number(s)}" for i, s in enumerate(network.layer_scales) if s)
        footer += f"\nper-layer scales (device units per training unit): {scales}"
    return "\n".join([header, *table, footer])
