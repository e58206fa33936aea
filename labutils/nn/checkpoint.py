"""One checkpoint format for every PyTorch model of the labs: the weights, the model's config (the keyword
arguments that rebuild it), its class name, its vocabulary's tokens when it has one, and extra plain values;
written atomically, loaded with ``weights_only`` (no code in the file runs) and checked against what it is
loaded for: the class, the config, the vocabulary."""
from typing import NamedTuple, Optional

import torch

from labutils.atomic import atomic_path


class Checkpoint(NamedTuple):
    model: torch.nn.Module
    tokens: Optional[tuple]         # the saved vocabulary's tokens (None for a model without one)
    extra: dict


def save_model(path, model: torch.nn.Module, vocab=None, **extra) -> None:
    """Write model (which has ``.config``) and vocab (a labutils Vocabulary, optional) to path, atomically."""
    with atomic_path(path) as tmp:
        torch.save({"class": type(model).__name__, "state_dict": model.state_dict(), "config": dict(model.config),
                    "tokens": list(vocab.tokens) if vocab is not None else None, "extra": extra}, tmp)


def load_model(path, model_class, vocab=None) -> Checkpoint:
    """The model saved at path, rebuilt as model_class -> Checkpoint(model, tokens, extra).

    ValueError when the file holds another class, a config model_class cannot take, or (with ``vocab``) a
    vocabulary other than vocab's: what differs, and what to do."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    saved_class = blob.get("class", model_class.__name__)
    if saved_class != model_class.__name__:
        raise ValueError(f"{path} holds a {saved_class}, not a {model_class.__name__}: load it as {saved_class}")
    tokens = tuple(blob["tokens"]) if blob.get("tokens") is not None else None
    if vocab is not None and tokens != tuple(vocab.tokens):
        saved = set(tokens or ())
        raise ValueError(f"the saved model's vocabulary ({len(saved)} tokens) differs from this corpus' "
                         f"({len(vocab)} tokens; only in the model: {sorted(saved - set(vocab.tokens))[:20]}, "
                         f"only in the corpus: {sorted(set(vocab.tokens) - saved)[:20]}): load the corpus it was "
                         "trained on, or train a new model")
    try:
        model = model_class(**blob["config"])
        model.load_state_dict(blob["state_dict"])
    except (TypeError, RuntimeError) as err:
        raise ValueError(f"{path}'s config {blob['config']} and weights do not fit {model_class.__name__}: "
                         f"{str(err)[:300]}; it was saved by another version of labutils: train it again") from None
    return Checkpoint(model, tokens, blob.get("extra", {}))
