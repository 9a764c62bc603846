"""The project's layout: stage scripts import helpers only, and no modules import each other in a circle.

The import graph is read from the source (every ``import`` and ``from ... import`` of a
top-level project module, including those inside functions), so a lazy import cannot
hide a dependency.
"""
from __future__ import annotations

import ast

from conftest import ROOT


def _is_main_guard(node) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in node.test.comparators))


def project_modules() -> dict:
    """``{name: ast.Module}`` of every top-level ``*.py`` file of the project."""
    return {p.stem: ast.parse(p.read_text(), filename=str(p)) for p in sorted(ROOT.glob("*.py"))}


def import_graph(mods: dict) -> dict:
    """``{module: set of project modules it imports}``."""
    graph = {}
    for name, tree in mods.items():
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                deps |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                deps.add(node.module.split(".")[0])
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def stage_scripts(mods: dict) -> set:
    """Modules that run as programs: a top-level ``if __name__ == "__main__":`` block."""
    return {name for name, tree in mods.items() if any(_is_main_guard(n) for n in tree.body)}


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_checks_catch_what_they_look_for():
    mods = {"a": ast.parse("import b\nif __name__ == '__main__':\n    pass\n"),
            "b": ast.parse("def f():\n    from c import x\n"),
            "c": ast.parse("from b import f\nif __name__ == '__main__':\n    pass\n"),
            "d": ast.parse("x = '__main__'\n")}
    graph = import_graph(mods)
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"b"}, "d": set()}
    assert stage_scripts(mods) == {"a", "c"}
    assert cycles(graph) == [["b", "c"]]


def test_no_stage_script_imports_another_stage_script():
    mods = project_modules()
    stages = stage_scripts(mods)
    # the user-fixed stages are among them, and the helper modules are not
    assert {"train_emo_model", "predict_new_audio", "log_predictions_to_db", "train_descriptor_model",
            "train_and_visualize_all_descriptors", "predict_batch_descriptor", "predict_descriptor_value",
            "query_library", "recommend", "va_map"} <= stages
    assert not stages & {"va_inference", "va_library", "va_io", "va_cli", "va_utils", "extractor", "essentia_engine"}
    graph = import_graph(mods)
    bad = sorted(f"{s} imports {d}" for s in stages for d in graph[s] & stages)
    assert bad == []


def test_no_modules_import_each_other():
    assert cycles(import_graph(project_modules())) == []


def test_one_place_runs_the_models():
    """Only va_inference predicts with the valence/arousal models; the rest ask it."""
    graph = import_graph(project_modules())
    users = {m for m, deps in graph.items() if "va_inference" in deps}
    assert {"predict_new_audio", "predict_batch_descriptor", "predict_descriptor_value", "recommend",
            "va_library"} <= users
    for name, tree in project_modules().items():
        if name == "va_inference":
            continue
        defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert not defined & {"load_va_models", "predict_va", "predict_emotion", "load_emotion_model",
                              "load_descriptor_models", "predict_descriptors", "predict_segments"}, name


def test_pyproject_installs_every_module_and_its_commands_exist():
    """`pip install .` ships every top-level module; each emotag-* command names a real main()."""
    import tomllib
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(conf["tool"]["setuptools"]["py-modules"])
    mods = project_modules()
    assert listed == set(mods), {"missing": sorted(set(mods) - listed), "extra": sorted(listed - set(mods))}
    for command, target in conf["project"]["scripts"].items():
        module, func = target.split(":")
        assert module in stage_scripts(mods), command
        assert any(isinstance(n, ast.FunctionDef) and n.name == func for n in mods[module].body), command
    shipped = conf["tool"]["setuptools"]["data-files"]
    assert {"share/emotag/models", "share/emotag/models/yamnet", "share/emotag/models/face",
            "share/emotag/data", "share/emotag/web"} <= set(shipped)
    for patterns in shipped.values():
        for pat in patterns:
            assert list(ROOT.glob(pat)), f"{pat} matches nothing"
