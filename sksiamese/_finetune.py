"""Fine-tuning a given encoder: kept weights, frozen parameters, learning rates by name.

The names are those of the encoder's own ``named_parameters()``, whatever
the estimator wraps it in (``NormalizedEncoder``, the towers of a pair
network), so that they read as in the user's module.
"""

import glob

import torch

from ._warnings import warn

ENCODER_INITS = ("reset", "keep")


def check_encoder_init(est):
    """Raise where ``encoder_init="keep"`` has no weights to keep."""
    if est.encoder_init != "keep":
        return
    named = [(name, value) for name, value in _encoders(est)
             if not isinstance(value, torch.nn.Module)]
    if named:
        name, value = named[0]
        raise ValueError(
            f"encoder_init='keep' keeps the weights of an encoder instance, but "
            f"{name}={value!r} is built anew at each fit. Pass a torch.nn.Module "
            "instance holding the weights to fine-tune, or encoder_init='reset'."
        )


def check_zero_epochs(est):
    """Raise where ``max_epochs=0`` would leave an untrained network.

    Zero epochs use the encoder as given (zero-shot), which makes sense only
    for weights that mean something: a pretrained encoder (one that keeps its
    pretrained weights, such as ``PretrainedTextEncoder``) or an instance
    whose weights ``encoder_init="keep"`` keeps.
    """
    if est.max_epochs != 0:
        return
    # A pretrained encoder (instance or class) loads its weights itself.
    untrained = [name for name, value in _encoders(est)
                 if not hasattr(value, "reset_new_parameters")
                 and not (isinstance(value, torch.nn.Module)
                          and est.encoder_init == "keep")]
    if untrained:
        raise ValueError(
            f"max_epochs=0 trains nothing, so {untrained[0]}="
            f"{getattr(est, untrained[0])!r} would embed with the random weights "
            "it starts from. Train at least one epoch, or use max_epochs=0 with "
            "a pretrained encoder (PretrainedTextEncoder, or a module instance "
            "with encoder_init='keep') to embed with it as it is."
        )


def _encoders(est):
    yield "encoder", est.encoder
    right = getattr(est, "right_encoder", None)
    if right is not None:
        yield "right_encoder", right


def freeze(towers, prefixes):
    """Set ``requires_grad=False`` on the parameters whose names start with a prefix.

    ``towers`` are the encoders built (one, or a pair network's two); each
    prefix must name a parameter of at least one, so that a misspelt one is
    not a silently unfrozen network. Normalisation layers (BatchNorm,
    InstanceNorm with running statistics) under a prefix, or whose
    parameters are all frozen, are marked to stay in eval mode while
    training (see ``frozen_norms_to_eval``): frozen means the function of
    that part does not change.
    """
    if not prefixes:
        return
    names = [name for tower in towers for name, _ in tower.named_parameters()]
    unknown = [p for p in prefixes if not any(n.startswith(p) for n in names)]
    if unknown:
        raise ValueError(
            f"freeze={tuple(prefixes)!r}: {', '.join(map(repr, unknown))} starts "
            f"no parameter name of the encoder ({type(towers[0]).__name__}), "
            f"whose parameters are {', '.join(names[:8])}"
            + (" and more" if len(names) > 8 else "") + "."
        )
    for tower in towers:
        for name, param in tower.named_parameters():
            if any(name.startswith(p) for p in prefixes):
                param.requires_grad_(False)
        for name, module in tower.named_modules():
            if isinstance(module, torch.nn.modules.batchnorm._NormBase) and (
                    any(f"{name}.".startswith(p) for p in prefixes)
                    or _all_frozen(module)):
                # Its running statistics would still move in training mode,
                # changing the frozen part's function.
                module.sksiamese_frozen = True
                module.train(False)


def _all_frozen(module):
    params = list(module.parameters())
    return bool(params) and not any(p.requires_grad for p in params)


def frozen_norms_to_eval(module):
    """Put the normalisation layers that ``freeze`` froze back in eval mode.

    Called after every switch to training mode, so that a frozen
    BatchNorm's running mean and variance stay those it was given.
    """
    for sub in module.modules():
        if getattr(sub, "sksiamese_frozen", False):
            sub.train(False)


def check_freeze(value):
    if value is not None and not all(isinstance(p, str) for p in value):
        raise ValueError(f"freeze must be a tuple of parameter-name prefixes "
                         f"(str); got {value!r}.")


def check_lr_groups(value):
    if value is None:
        return
    bad = {k: v for k, v in value.items()
           if not isinstance(k, str) or isinstance(v, bool)
           or not isinstance(v, (int, float)) or not v >= 0}
    if bad:
        raise ValueError(
            "lr_groups maps parameter-name prefixes (str) to learning rates "
            f"(numbers >= 0, 0 for none); got {bad!r}."
        )


def param_groups(lr_groups, towers):
    """skorch's ``optimizer__param_groups`` for learning rates by name prefix.

    ``towers`` are the prefixes under which the estimator's module holds the
    encoder (``""``, ``"encoder."``, ``"left."``, ...). The longest prefix
    comes first, as skorch gives each parameter to the first pattern it
    matches.
    """
    groups = []
    for prefix in sorted(lr_groups or {}, key=len, reverse=True):
        for tower in towers:
            groups.append((glob.escape(tower + prefix) + "*",
                           {"lr": float(lr_groups[prefix])}))
    return groups


def check_lr_prefixes(module, lr_groups, towers):
    """Raise where a prefix of ``lr_groups`` starts no parameter of the module."""
    names = [name[len(t):] for name, _ in module.named_parameters()
             for t in towers if name.startswith(t)]
    unknown = [p for p in (lr_groups or {}) if not any(n.startswith(p) for n in names)]
    if unknown:
        raise ValueError(
            f"lr_groups: {', '.join(map(repr, unknown))} starts no parameter "
            "name of the encoder; use the names of its named_parameters(), "
            f"which are {', '.join(names[:8])}"
            + (" and more" if len(names) > 8 else "") + "."
        )


def check_trainable(module, criterion):
    """Raise where neither the module nor the loss has a parameter left to train."""
    params = [*module.parameters()]
    if isinstance(criterion, torch.nn.Module):
        params += [*criterion.parameters()]
    if not any(p.requires_grad for p in params):
        raise ValueError(
            "Every parameter of the network is frozen (by freeze, or by "
            "requires_grad=False on the encoder given), so there is nothing to "
            "train. Freeze fewer parameters, for example all but the last "
            "layer's."
        )


def warn_width(est, name, width):
    """Warn where ``n_components`` is not the width an encoder instance embeds into.

    ``n_components="auto"`` asks for the instance's own width: no warning.
    """
    if isinstance(getattr(est, name, None), torch.nn.Module) and (
            est.n_components not in ("auto", width)):
        warn(
            f"{type(est).__name__}: n_components={est.n_components} is not used: "
            f"{name}={type(getattr(est, name)).__name__}(...) is an instance, "
            f"which embeds into {width} dimensions (n_components_={width}). Set "
            f"n_components={width} to say so.",
            UserWarning,
        )
