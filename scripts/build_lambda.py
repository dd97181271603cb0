"""Build the SAM artefacts without Docker or `sam build`: `.aws-sam/build/` in sam's layout.

Run by ``scripts/build-lambda``. For every resource of the template:

* ``AWS::Serverless::Function`` with a local ``CodeUri``: the folder is copied to
  ``<build>/<LogicalId>/``; a ``requirements.txt`` in it is installed there too.
* ``AWS::Serverless::LayerVersion`` with a local ``ContentUri`` and a python
  ``Metadata.BuildMethod``: the folder is copied to ``<build>/<LogicalId>/python/`` and its
  ``requirements.txt`` (if any) is installed into the same ``python/`` with
  ``pip install --platform manylinux2014_<arch> ... manylinux_2_34_<arch> --only-binary=:all:``. A layer without a
  BuildMethod is not built (sam does the same): its path is rewritten like the ones below.
* Any other local path sam would not build (a state machine's ``DefinitionUri``, an API's
  ``DefinitionUri``...) is rewritten relative to the build folder, as sam does.

The built template is written to ``<build>/template.yaml`` (long-form intrinsics, which
``sam deploy`` reads like the short ones). Installed requirements are kept under
``.aws-sam/cache/`` keyed by a hash of the requirements and platform, so a rerun only
relinks them; pip's download cache lives there too.

Stripped from every artefact: ``__pycache__`` folders and ``*.pyc`` of the build machine's
Python, ``*.egg-info`` source metadata, ``bin/`` console scripts, and the test suites that
numpy ships inside its package (``numpy/**/tests``). ``*.dist-info`` stays whole (libraries
read their metadata with importlib.metadata). When an interpreter of the runtime's version
is found, the ``.py`` files are compiled to ``.pyc`` (unchecked-hash): ``/opt`` and
``/var/task`` are read-only on Lambda, so without them every cold start compiles every
imported module again.

Prints the unzipped size of each artefact and of each function with its layers; exits 1 when
one is over Lambda's 250 MB unzipped limit.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LIMIT_BYTES = 262_144_000  # Lambda: 250 MB unzipped, function code + all its layers
MB = 1024 * 1024
DEFAULT_PYTHON = "3.12"
DEFAULT_ARCH = "arm64"
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Lambda's python3.12 runtime is Amazon Linux 2023 (glibc 2.34): manylinux2014 (glibc 2.17) up
# to manylinux_2_34 wheels run there. tiktoken 0.12+ ships only manylinux_2_28 for aarch64.
GLIBC_MINORS = range(17, 35)


def platforms(arch: str) -> list[str]:
    machine = MACHINES.get(arch, MACHINES[DEFAULT_ARCH])
    return [f"manylinux2014_{machine}", *(f"manylinux_2_{n}_{machine}" for n in GLIBC_MINORS)]
# (resource type, property) -> the local paths sam would package without building them.
UNBUILT_PATHS = {
    "AWS::Serverless::StateMachine": ["DefinitionUri"],
    "AWS::Serverless::Api": ["DefinitionUri"],
    "AWS::Serverless::HttpApi": ["DefinitionUri"],
    "AWS::Serverless::Application": ["Location"],
    "AWS::Serverless::GraphQLApi": ["SchemaUri"],
    "AWS::Serverless::LayerVersion": ["ContentUri"],
    "AWS::Serverless::Function": ["CodeUri"],
}
STRIP_DIRS = {"__pycache__"}
STRIP_SUFFIXES = (".pyc", ".egg-info")
# Test suites inside installed packages removed only where nothing imports them at run time.
STRIP_PACKAGE_TESTS = ("numpy",)


@dataclass
class Artefact:
    logical_id: str
    kind: str  # "function" | "layer"
    path: Path
    layers: list[str] = field(default_factory=list)
    external_layers: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return tree_size(self.path)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def plain(node: Any) -> Any:
    """cfn-lint's decoded nodes as plain dicts, lists and strings (for yaml.safe_dump)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool | int | float) or node is None:
        return node
    return str(node)


def load_template(path: Path) -> dict[str, Any]:
    """The template with short-form tags (!Ref, !Sub...) as their long form."""
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if template is None:
        raise SystemExit(f"{path}: cannot parse: {'; '.join(str(m) for m in matches)}")
    return plain(template)


def tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root, name)
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def ignore(directory: str, names: list[str]) -> set[str]:
    del directory
    return {n for n in names
            if n in STRIP_DIRS or n.endswith(STRIP_SUFFIXES) or n == "requirements.txt"}


def strip(tree: Path) -> None:
    for root, dirs, files in os.walk(tree, topdown=True):
        for name in list(dirs):
            if name in STRIP_DIRS or name.endswith(".egg-info"):
                shutil.rmtree(Path(root, name))
                dirs.remove(name)
        for name in files:
            if name.endswith(".pyc"):
                Path(root, name).unlink()
    if (tree / "bin").is_dir():
        shutil.rmtree(tree / "bin")
    for package in STRIP_PACKAGE_TESTS:
        for tests in sorted((tree / package).glob("**/tests")) if (tree / package).is_dir() else []:
            if tests.is_dir():
                shutil.rmtree(tests)


def link_tree(source: Path, target: Path) -> None:
    """Copy ``source`` into ``target`` with hard links (same disk), falling back to copies."""

    def link(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return dst

    shutil.copytree(source, target, copy_function=link, dirs_exist_ok=True, symlinks=True)


def find_python(version: str) -> str | None:
    """An interpreter of the runtime's version (to compile .pyc), or None."""
    candidates = [shutil.which(f"python{version}") or ""]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")))
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        if out.strip() == str(tuple(int(p) for p in version.split("."))):
            return candidate
    return None


class Builder:
    def __init__(self, template_path: Path, build_dir: Path, cache_dir: Path,
                 compile_pyc: bool, log: Any = None) -> None:
        self.template_path = template_path.resolve()
        self.base = self.template_path.parent
        self.build_dir = build_dir.resolve()
        self.cache_dir = cache_dir.resolve()
        self.compile_pyc = compile_pyc
        self.log = log or say
        self.template = load_template(self.template_path)
        self.globals = self.template.get("Globals", {}).get("Function", {}) or {}
        self.artefacts: dict[str, Artefact] = {}
        self._pythons: dict[str, str | None] = {}

    # ------------------------------------------------------------------ helpers
    def local_path(self, value: Any) -> Path | None:
        """A relative or absolute local path (not s3://, not an intrinsic), else None."""
        if not isinstance(value, str) or value.startswith(("s3://", "http://", "https://")):
            return None
        return (self.base / value).resolve()

    def python_version(self, props: dict[str, Any], metadata: dict[str, Any]) -> str:
        for value in (metadata.get("BuildMethod"), props.get("Runtime"),
                      self.globals.get("Runtime"), (props.get("CompatibleRuntimes") or [None])[0]):
            if isinstance(value, str) and value.startswith("python3"):
                return value.removeprefix("python")
        return DEFAULT_PYTHON

    def arch(self, props: dict[str, Any]) -> str:
        archs = (props.get("Architectures") or props.get("CompatibleArchitectures")
                 or self.globals.get("Architectures") or [DEFAULT_ARCH])
        if isinstance(props.get("BuildArchitecture"), str):
            archs = [props["BuildArchitecture"]]
        return archs[0] if isinstance(archs, list) and isinstance(archs[0], str) else DEFAULT_ARCH

    # ------------------------------------------------------------------- build
    def install(self, logical_id: str, requirements: Path, python: str, arch: str,
                target: Path) -> None:
        """pip-install ``requirements`` for the Lambda platform, cached by content + platform."""
        if not any(line.strip() and not line.lstrip().startswith("#")
                   for line in requirements.read_text().splitlines()):
            return  # nothing to install (pip refuses an empty requirements file)
        tags = platforms(arch)
        key = hashlib.sha256(f"{requirements.read_text()}|{tags}|{python}".encode())
        cached = self.cache_dir / "deps" / f"{logical_id}-{key.hexdigest()[:16]}"
        for stale in (self.cache_dir / "deps").glob(f"{logical_id}-*"):
            if stale != cached:
                shutil.rmtree(stale, ignore_errors=True)
        if not (cached / ".complete").exists():
            shutil.rmtree(cached, ignore_errors=True)
            self.log(f"{logical_id}: pip install -r {requirements.relative_to(self.base)} "
                     f"({tags[0]}..{tags[-1]}, cp{python.replace('.', '')})")
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 *(arg for tag in tags for arg in ("--platform", tag)),
                 "--implementation", "cp", "--python-version", python,
                 "--only-binary=:all:", "--no-compile", "--cache-dir",
                 str(self.cache_dir / "pip"), "--target", str(cached / "python"),
                 "-r", str(requirements)],
                check=True,
            )
            strip(cached / "python")
            self.compile(cached / "python", python)
            (cached / ".complete").write_text(requirements.read_text())
        link_tree(cached / "python", target)

    def compile(self, tree: Path, python: str) -> None:
        if not self.compile_pyc:
            return
        if python not in self._pythons:
            self._pythons[python] = find_python(python)
            if self._pythons[python] is None:
                self.log(f"note: no python{python} found: artefacts ship without .pyc")
        interpreter = self._pythons[python]
        if interpreter:
            subprocess.run([interpreter, "-m", "compileall", "-q", "-j", "0",
                            "--invalidation-mode", "unchecked-hash", str(tree)],
                           check=False, stdout=subprocess.DEVNULL)

    def populate(self, logical_id: str, props: dict[str, Any], metadata: dict[str, Any],
                 source: Path, target: Path) -> None:
        """Copy ``source`` to ``target``, install its requirements.txt there, compile it."""
        shutil.copytree(source, target, ignore=ignore)
        python = self.python_version(props, metadata)
        if (source / "requirements.txt").is_file():
            self.install(logical_id, source / "requirements.txt", python,
                         self.arch({**props, **metadata}), target)
        self.compile(target, python)

    def build_function(self, logical_id: str, props: dict[str, Any],
                       metadata: dict[str, Any]) -> str:
        source = self.local_path(props.get("CodeUri", self.globals.get("CodeUri")))
        if source is None or not source.is_dir():
            raise SystemExit(f"{logical_id}: CodeUri {props.get('CodeUri')!r} is not a folder")
        target = self.build_dir / logical_id
        self.populate(logical_id, props, metadata, source, target)
        layers = [*(self.globals.get("Layers") or []), *(props.get("Layers") or [])]
        artefact = Artefact(logical_id, "function", target)
        for layer in layers:
            ref = layer.get("Ref") if isinstance(layer, dict) else None
            if ref and ref in self.template.get("Resources", {}):
                artefact.layers.append(ref)
            else:  # an ARN, a parameter or a condition: not built here
                artefact.external_layers.append(ref or (layer if isinstance(layer, str) else
                                                        next(iter(layer), "?")))
        self.artefacts[logical_id] = artefact
        return logical_id

    def build_layer(self, logical_id: str, props: dict[str, Any],
                    metadata: dict[str, Any]) -> str:
        source = self.local_path(props.get("ContentUri"))
        if source is None or not source.is_dir():
            raise SystemExit(f"{logical_id}: ContentUri {props.get('ContentUri')!r} is not a folder")
        target = self.build_dir / logical_id / "python"
        self.populate(logical_id, props, metadata, source, target)
        self.artefacts[logical_id] = Artefact(logical_id, "layer", target.parent)
        return logical_id

    def run(self) -> dict[str, Any]:
        shutil.rmtree(self.build_dir, ignore_errors=True)
        self.build_dir.mkdir(parents=True)
        resources = self.template.get("Resources", {})
        for logical_id, resource in resources.items():
            kind = resource.get("Type")
            props = resource.setdefault("Properties", {})
            metadata = resource.get("Metadata") or {}
            build_method = str(metadata.get("BuildMethod", ""))
            if kind == "AWS::Serverless::Function" and props.get("PackageType") != "Image" \
                    and "InlineCode" not in props:
                props["CodeUri"] = self.build_function(logical_id, props, metadata)
            elif kind == "AWS::Serverless::LayerVersion" and build_method.startswith("python"):
                props["ContentUri"] = self.build_layer(logical_id, props, metadata)
            elif build_method and kind == "AWS::Serverless::LayerVersion":
                raise SystemExit(f"{logical_id}: BuildMethod {build_method} is not supported here")
            else:
                self.relink(props, UNBUILT_PATHS.get(kind, []))
        out = self.build_dir / "template.yaml"
        out.write_text(yaml.safe_dump(self.template, sort_keys=False, width=100))
        return self.template

    def relink(self, props: dict[str, Any], names: list[str]) -> None:
        """Rewrite local paths that are packaged as they are, relative to the build folder."""
        for name in names:
            path = self.local_path(props.get(name))
            if path is not None and path.exists():
                props[name] = os.path.relpath(path, self.build_dir)

    # ------------------------------------------------------------------ report
    def report(self) -> list[dict[str, Any]]:
        rows = []
        sizes = {a.logical_id: a.size for a in self.artefacts.values()}
        self.log(f"{'artefact':28} {'kind':9} {'unzipped MB':>12}")
        for artefact in self.artefacts.values():
            self.log(f"{artefact.logical_id:28} {artefact.kind:9} "
                     f"{sizes[artefact.logical_id] / MB:12.1f}")
        self.log("")
        self.log(f"{'function + layers':28} {'total MB':>9} {'limit MB':>9}  layers")
        for artefact in self.artefacts.values():
            if artefact.kind != "function":
                continue
            unknown = [name for name in artefact.layers if name not in sizes]
            total = sizes[artefact.logical_id] + sum(sizes.get(n, 0) for n in artefact.layers)
            note = ", ".join(artefact.layers) or "-"
            if artefact.external_layers or unknown:
                note += f" + external, not counted: {', '.join(artefact.external_layers + unknown)}"
            self.log(f"{artefact.logical_id:28} {total / MB:9.1f} {LIMIT_BYTES / MB:9.0f}  {note}")
            rows.append({"function": artefact.logical_id, "bytes": total,
                         "layers": artefact.layers, "over_limit": total > LIMIT_BYTES})
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--cache-dir", type=Path, default=Path(".aws-sam/cache"))
    parser.add_argument("--no-compile", action="store_true",
                        help="ship no .pyc (smaller artefacts, slower cold starts)")
    parser.add_argument("--json", type=Path, help="also write the size report as JSON here")
    args = parser.parse_args(argv)
    builder = Builder(args.template, args.build_dir, args.cache_dir, not args.no_compile)
    builder.run()
    rows = builder.report()
    if args.json:
        sizes = {a.logical_id: a.size for a in builder.artefacts.values()}
        args.json.write_text(json.dumps({"artefacts": sizes, "functions": rows}, indent=2))
    over = [r["function"] for r in rows if r["over_limit"]]
    if over:
        sys.stderr.write(f"error: over Lambda's 250 MB unzipped limit: {', '.join(over)}\n")
        return 1
    say(f"built {len(builder.artefacts)} artefacts in {args.build_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
