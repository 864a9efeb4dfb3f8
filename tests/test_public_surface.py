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
