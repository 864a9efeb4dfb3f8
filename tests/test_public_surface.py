"""The curated top level of valleys and the plain ``analyze`` function."""

import subprocess
import sys
import types

import valleys


def test_every_name_of_the_top_level_resolves():
    missing = [name for name in valleys.__all__ if getattr(valleys, name, None) is None]
    assert not missing, f"valleys.__all__ names that do not resolve: {missing}"
    assert set(valleys.__all__) <= set(dir(valleys))


def test_top_level_names_are_the_packages_objects():
    from valleys import analysis, critical, curvature, paths, surface

    assert valleys.eigs is curvature.eigs and valleys.classify is critical.classify
    assert valleys.fit_bezier is paths.fit_bezier and valleys.plane is surface.plane
    assert valleys.analyze is analysis.analyze


def test_analyze_is_a_plain_function_of_a_plain_package():
    import valleys.analysis.model  # noqa: F401  (a submodule import must not rebind valleys.analyze)

    assert isinstance(valleys.analyze, types.FunctionType)
    assert type(sys.modules["valleys.analysis"]) is types.ModuleType
    assert valleys.analyze.__module__ == "valleys.analysis.analysis"
    assert "valleys.analyze" not in sys.modules


def test_importing_valleys_does_not_import_torch():
    code = "import sys, valleys; valleys.ValleysError; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_landscape_operand_is_positional_only_and_annotated():
    """Issue 19 item 6: every public function (in a package's ``__all__``) whose first operand
    is a landscape takes it (and the point it acts on) positionally only, annotated as a
    Landscape."""
    import importlib
    import inspect
    import pkgutil

    offenders, seen = [], 0
    for info in pkgutil.walk_packages(valleys.__path__, "valleys."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]) or ".experiments" in info.name \
                or ".cli" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()) if info.ispkg else ():
            fn = getattr(module, name)
            if not inspect.isfunction(fn):
                continue
            params = list(inspect.signature(fn).parameters.values())
            if not params or params[0].name != "land":
                continue
            seen += 1
            if params[0].kind is not inspect.Parameter.POSITIONAL_ONLY or "Landscape" not in str(params[0].annotation):
                offenders.append(f"{info.name}.{name}")
    assert seen > 30 and offenders == []
