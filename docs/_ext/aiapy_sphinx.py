"""
Local Sphinx extension of the aiapy documentation.

* Constants re-exported by a package (``aiapy.psf.DEFAULT_ORDERS`` is defined in ``aiapy.psf._calculate``)
  are documented with the ``#:`` comment above their definition; autodoc alone would look for it in the
  package's ``__init__`` and, finding none, show the docstring of the value's type (``numpy.ndarray``).
* References that name an aiapy object by the module it is defined in (``aiapy.calibrate.degradation.degradation``)
  or without its module (``AIApyUserWarning``) resolve to where the API reference documents it, when
  exactly one documented object has that name.
* A real aiapy object that the API reference does not list (``aiapy.utils.exceptions.warn_user``, or
  ``CONFIG_KEY`` in a docstring of ``aiapy.pipeline``) is shown as code without a link; a name that
  exists nowhere stays an error (``-n -W``).
"""

import importlib
import pkgutil

from sphinx.pycode import ModuleAnalyzer

#: Object types of class members, which a bare name refers to only when nothing else has that name.
_MEMBER_TYPES = ("attribute", "method", "property", "classmethod", "staticmethod")


def _submodules(package):
    module = importlib.import_module(package)
    names = [package]
    if hasattr(module, "__path__"):
        names += [info.name for info in pkgutil.walk_packages(module.__path__, package + ".")]
    return names


def _attribute_comment(fullname):
    """The ``#:`` comment of a module-level name, looked up in its module and that module's submodules."""
    package, _, name = fullname.rpartition(".")
    for modname in _submodules(package):
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:  # noqa: BLE001 (a module without source: nothing to find there)
            continue
        if ("", name) in docs:
            return list(docs[("", name)])
    return None


def constant_docstring(app, what, name, obj, options, lines):
    """Replace the type docstring autodoc gives a constant by the constant's ``#:`` comment."""
    if what != "data" or not name.startswith("aiapy."):
        return
    comment = _attribute_comment(name)
    if comment is not None:
        lines[:] = comment
    elif lines and type(obj).__doc__ and lines[0].strip() in type(obj).__doc__:
        lines[:] = []


def resolve_aiapy(app, env, node, contnode):
    """Resolve an aiapy reference by its last name, if exactly one documented object carries it."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    if not (target.startswith("aiapy.") or "." not in target):
        return None
    domain = env.get_domain("py")
    last = target.rpartition(".")[2]
    matches = [
        full
        for full, entry in domain.objects.items()
        if full.startswith("aiapy.") and full.rpartition(".")[2] == last and not entry.aliased  # not :canonical:
    ]
    if target.startswith("aiapy."):
        # the documented name must share the defining module's package, e.g. aiapy.calibrate.*
        root = ".".join(target.split(".")[:2])
        matches = [full for full in matches if full.startswith(root + ".")]
    if len(matches) > 1:  # a function or class rather than an attribute of the same name
        matches = [full for full in matches if domain.objects[full].objtype not in _MEMBER_TYPES]
    if len(matches) != 1:
        return _undocumented_object(node, target, contnode)
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], matches[0], node, contnode)


def _undocumented_object(node, target, contnode):
    """
    Code text, without a link, for a real aiapy object that the API reference does not list: a full name
    that imports (``aiapy.utils.exceptions.warn_user``), or a public module-level name of the documented
    object's subpackage (``CONFIG_KEY`` of ``aiapy.pipeline._output``). A name that exists nowhere (a typo,
    a parameter written as a reference) stays unresolved.
    """
    if target.startswith("aiapy."):
        return contnode if _imports(target) else None
    module = node.get("py:module") or ""
    if "." in target or not module.startswith("aiapy") or target.startswith("_"):
        return None
    package = ".".join(module.split(".")[:2])
    return contnode if any(target in vars(importlib.import_module(name)) for name in _submodules(package)) else None


def _imports(fullname):
    """Whether ``fullname`` is a module or an attribute of one."""
    parts = fullname.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


def setup(app):
    app.connect("autodoc-process-docstring", constant_docstring)
    app.connect("missing-reference", resolve_aiapy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
