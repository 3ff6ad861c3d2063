"""save / load of nested containers of tensors, without pickle."""


def save(obj, f):
    raise NotImplementedError("save: not implemented yet")


def load(f, map_location=None, weights_only=True):
    raise NotImplementedError("load: not implemented yet")
