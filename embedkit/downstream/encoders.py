"""The sequence encoders a downstream model can use, by name: parameters, layers, shapes.

``gru``, ``lstm`` and ``rnn`` are bidirectional recurrent layers, stacked ``layers`` deep
(layer ``n >= 2`` has its parameter names prefixed ``l{n}_``); each outputs ``2 * hidden``
features per position.  The model owns the dropout between stacked layers.
``transformer`` is one :class:`~embedkit.downstream.transformer.TransformerEncoder` of
``layers`` pre-LN layers of width ``hidden`` (``heads`` heads, ``ff_dim`` feed-forward units,
``transformer_dropout`` inside); it outputs ``hidden`` features per position.
"""

from __future__ import annotations

from embedkit.downstream.config import check_encoder, ff_dim
from embedkit.downstream.encoder import BiGRU, init_bigru
from embedkit.downstream.recurrent import (BiLSTM, BiRNN, init_bilstm, init_birnn,
                                           recurrent_shapes)
from embedkit.downstream.transformer import (TransformerEncoder, init_transformer,
                                              transformer_shapes)

RECURRENT = {"gru": (BiGRU, init_bigru), "lstm": (BiLSTM, init_bilstm),
             "rnn": (BiRNN, init_birnn)}


def _layer_shapes(kind, d_in, H):
    if kind == "gru":
        return {f"gru_{d}_{k}": s for d in "fb" for k, s in
                (("Wi", (3 * H, d_in)), ("bi", (3 * H,)), ("WhT", (H, 3 * H)), ("bhn", (H,)))}
    return recurrent_shapes(kind, d_in, H)


def feature_width(params: dict) -> int:
    """Input features per position the encoder reads: word vector, casing, character n-gram
    bag and character CNN features, from the shapes of their parameter arrays."""
    d = params["emb"].shape[1]
    for k in ("case_emb", "char_emb"):
        if k in params:
            d += params[k].shape[1]
    d += sum(v.shape[2] for k, v in params.items()
             if k == "cnn_W" or k.startswith("cnn_W_"))
    return int(d)


def encoder_shapes(cfg, d_in: int) -> dict:
    """``{parameter name: shape}`` of the encoder of config ``cfg`` over ``d_in`` inputs."""
    kind = check_encoder(cfg.get("encoder", "gru"))
    H = int(cfg["hidden"])
    if kind == "transformer":
        return transformer_shapes(d_in, H, int(cfg.get("layers", 1)), ff_dim(cfg))
    out = dict(_layer_shapes(kind, d_in, H))
    for layer in range(2, int(cfg.get("layers", 1)) + 1):
        out.update({f"l{layer}_{k}": s for k, s in _layer_shapes(kind, 2 * H, H).items()})
    return out


def init_encoder(cfg, rng, d_in: int) -> dict:
    """Fresh parameters of the encoder of config ``cfg`` over ``d_in`` input features."""
    kind = check_encoder(cfg.get("encoder", "gru"))
    H = int(cfg["hidden"])
    if kind == "transformer":
        return init_transformer(rng, d_in, H, int(cfg.get("layers", 1)), ff_dim(cfg))
    init = RECURRENT[kind][1]
    p = dict(init(rng, d_in, H))
    for layer in range(2, int(cfg.get("layers", 1)) + 1):
        p.update({f"l{layer}_{k}": v for k, v in init(rng, 2 * H, H).items()})
    return p


def build_encoders(cfg, params: dict, grads: dict, exact: bool = False) -> list:
    """The encoder layers over the shared ``params``/``grads`` dicts, first layer first."""
    kind = check_encoder(cfg.get("encoder", "gru"))
    threads = int(cfg["threads"])
    if kind == "transformer":
        return [TransformerEncoder(params, grads, heads=int(cfg.get("heads", 4)),
                                   threads=threads,
                                   dropout=float(cfg.get("transformer_dropout", 0.1)),
                                   exact=exact)]
    cls = RECURRENT[kind][0]
    layers = [cls(params, grads, threads=threads, exact=exact)]
    keys = [k for k in _layer_shapes(kind, 1, 1)]
    for layer in range(2, int(cfg.get("layers", 1)) + 1):
        names = {k: f"l{layer}_{k}" for k in keys}
        layers.append(cls({k: params[v] for k, v in names.items()},
                          {k: grads[v] for k, v in names.items()}, threads=threads,
                          exact=exact))
    return layers
