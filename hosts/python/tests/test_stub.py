"""The stub (forge_authz.pyi) names exactly what the extension has."""

import ast
import pathlib

import forge_authz

STUB = pathlib.Path(__file__).resolve().parents[1] / "forge_authz.pyi"
TYPING_ONLY = {"Json", "FactSource", "Facts"}  # aliases that exist only for type checkers


def _stub():
    tree = ast.parse(STUB.read_text())
    names, members = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            m = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    m.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    m.add(item.target.id)
            members[node.name] = m
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names - TYPING_ONLY, members


def test_the_stub_and_the_module_name_the_same_things():
    names, members = _stub()
    # `forge_authz.forge_authz` is the extension inside the package maturin builds
    public = {n for n in dir(forge_authz) if not n.startswith("_") and n != "forge_authz"}
    public |= {"__version__"} if hasattr(forge_authz, "__version__") else set()
    assert names == public
    for cls, ms in members.items():
        if cls in TYPING_ONLY:
            continue
        obj = getattr(forge_authz, cls)
        for m in ms:
            if m in ("code", "reason") and issubclass(obj, Exception):
                continue  # set on the instance when raised
            assert hasattr(obj, m), f"{cls}.{m} is in the stub, not in the module"
        if not issubclass(obj, Exception):
            real = {n for n in vars(obj) if not n.startswith("_")}
            assert real <= ms, f"{cls}: {real - ms} are not in the stub"
