"""
Local Sphinx extension of the aiapy documentation.

* Constants re-exported by a package (``aiapy.psf.DEFAULT_ORDERS`` is defined in ``aiapy.psf._calculate``)
  are documented with the ``#:`` comment above their definition; autodoc alone would look for it in the
  package's ``__init__`` and, finding none, show the docstring of the value's type (``numpy.ndarray``).
* References that name an aiapy object by the module it is defined in (``aiapy.calibrate.degradation.degradation``)
  or without its module (``AIApyUserWarning``) resolve to where the API reference documents it, when
  exactly one documented object has that name.
* ``.. aiapy-cli:: module:function`` renders the options of an `argparse` parser (the ``aiapy`` command),
  read from the parser when the site is built, so that the page follows every change of the command.
* A real aiapy object that the API reference does not list (``aiapy.utils.exceptions.warn_user``, or
  ``CONFIG_KEY`` in a docstring of ``aiapy.pipeline``) is shown as code without a link; a name that
  exists nowhere stays an error (``-n -W``).
"""

import argparse
import importlib
import os
import pkgutil

from docutils import nodes
from sphinx import addnodes
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

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


def _module_docstring_entry(fullname):
    """
    The description of ``NAME`` in its module's docstring, where the docstring lists it as a definition
    list item (a line ````NAME```` or ````NAME````, ````OTHER```` followed by indented text), or None.
    """
    module, _, name = fullname.rpartition(".")
    try:
        text = importlib.import_module(module).__doc__ or ""
    except ImportError:
        return None
    lines = text.splitlines()
    for index, line in enumerate(lines):
        names = [part.strip().strip("`") for part in line.split(",")]
        if line.startswith("``") and name in names:
            body = []
            for following in lines[index + 1 :]:
                if following.strip() and not following.startswith(" "):
                    break
                body.append(following.strip())
            return [" ".join(" ".join(body).split())] if any(body) else None
    return None


def _is_path_value(obj):
    """A path, or a container of paths: a value that names a file of the machine that built the site."""
    if isinstance(obj, os.PathLike):
        return True
    if isinstance(obj, dict):
        return any(_is_path_value(value) for value in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_is_path_value(value) for value in obj)
    return False


def constant_docstring(app, what, name, obj, options, lines):
    """
    Replace the type docstring autodoc gives a constant by the constant's ``#:`` comment, or by its entry
    in the module's docstring.
    """
    if what != "data" or not name.startswith("aiapy."):
        return
    comment = _attribute_comment(name) or _module_docstring_entry(name)
    if comment is not None:
        lines[:] = comment
    elif lines and type(obj).__doc__ and lines[0].strip() in type(obj).__doc__:
        lines[:] = []


def hide_path_values(app, doctree):
    """
    Remove the ``= value`` of documented constants whose value is a path (or holds paths): it names a
    folder of the machine that built the site, not something a reader can use.
    """
    for signature in doctree.findall(addnodes.desc_signature):
        module, fullname = signature.get("module"), signature.get("fullname")
        if not module or not fullname or not module.startswith("aiapy"):
            continue
        try:
            value = importlib.import_module(module)
            for part in fullname.split("."):
                value = getattr(value, part)
        except (ImportError, AttributeError):
            continue
        if _is_path_value(value):
            for annotation in list(signature.findall(addnodes.desc_annotation)):
                if "=" in annotation.astext():
                    annotation.parent.remove(annotation)


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


class ArgparseDirective(SphinxDirective):
    """
    The commands and options of an `argparse` parser, one section per subcommand.

    The argument names the function that builds the parser, ``module:function``. Each subcommand gets a
    section with its usage, its description and one definition list per option group (the option
    strings, then the help text with its defaults filled in).
    """

    required_arguments = 1
    has_content = False

    def run(self):
        module, _, function = self.arguments[0].partition(":")
        parser = getattr(importlib.import_module(module), function)()
        prog = parser.prog
        result = [*self._describe(parser, parser.description)]
        for action in parser._actions:  # noqa: SLF001 (argparse has no public view of its actions)
            if not isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                continue
            helps = {choice.dest: choice.help for choice in action._choices_actions}  # noqa: SLF001
            for name, subparser in action.choices.items():
                title = f"{prog} {name}"
                section = nodes.section(ids=[nodes.make_id(f"command-{title}")], names=[nodes.fully_normalize_name(title)])
                section += nodes.title(text=title)
                section += self._describe(subparser, subparser.description or helps.get(name))
                self.state.document.note_implicit_target(section)
                result.append(section)
        return result

    @staticmethod
    def _describe(parser, description):
        formatter = argparse.HelpFormatter(parser.prog, width=88, max_help_position=30)
        formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)  # noqa: SLF001
        usage = formatter.format_help().strip()
        found = [nodes.literal_block(usage, usage, language="text", classes=["cli-usage"])]
        if description:
            found.append(nodes.paragraph(text=description))
        for group in parser._action_groups:  # noqa: SLF001
            actions = [action for action in group._group_actions if action.help != argparse.SUPPRESS]  # noqa: SLF001
            actions = [action for action in actions if not isinstance(action, argparse._SubParsersAction)]  # noqa: SLF001
            if not actions:
                continue
            found.append(nodes.rubric(text=group.title[:1].upper() + group.title[1:]))
            if group.description:
                found.append(nodes.paragraph(text=group.description))
            items = nodes.definition_list()
            for action in actions:
                invocation = formatter._format_action_invocation(action)  # noqa: SLF001
                text = formatter._expand_help(action) if action.help else ""  # noqa: SLF001
                term = nodes.term()
                for index, spelling in enumerate(invocation.split(", ")):
                    if index:
                        term += nodes.Text(", ")
                    term += nodes.literal(spelling, spelling)
                items += nodes.definition_list_item("", term, nodes.definition("", nodes.paragraph(text=text)))
            found.append(items)
        return found


def setup(app):
    app.add_directive("aiapy-cli", ArgparseDirective)
    app.connect("autodoc-process-docstring", constant_docstring)
    app.connect("doctree-read", hide_path_values)
    app.connect("missing-reference", resolve_aiapy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
