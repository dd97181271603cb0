"""scripts/build-lambda: the layout sam writes, the rewritten template, the size report.

The build runs against a small template in a temporary folder: a function, a layer whose
requirements.txt installs a tiny wheel made here (``--no-index --find-links``: no network),
a state machine definition that is not built. The real template is only checked for
source folders and handler files; its full build downloads ~100 MB (bench/bench_lambda.py).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_lambda.py"

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Globals:
  Function:
    Runtime: python3.12
    Architectures: [arm64]
    Layers:
      - !Ref TinyLayer
Resources:
  TinyLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: src/layer/
      CompatibleRuntimes: [python3.12]
    Metadata:
      BuildMethod: python3.12
  EmptyLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: src/empty/
    Metadata:
      BuildMethod: python3.12
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/fn/
      Handler: handler.handler
      Layers:
        - !Ref EmptyLayer
        - !Sub "arn:${AWS::Partition}:lambda:${AWS::Region}:123456789012:layer:Other:1"
      Environment:
        Variables:
          STAGE: !Ref Stage
          NAME: !Sub "${AWS::StackName}-${Stage}"
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: src/machine.asl.json
      DefinitionSubstitutions:
        FnArn: !GetAtt Fn.Arn
"""


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_lambda_under_test", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def make_wheel(folder: Path, name: str = "tinypkg", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel, as pip expects it (METADATA, WHEEL, RECORD)."""
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{name}/tests/test_it.py": b"def test_it():\n    pass\n",
        f"{name}-{version}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{name}-{version}.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.fixture
def project(tmp_path: Path) -> Path:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels)
    src = tmp_path / "src"
    (src / "layer" / "mylib" / "__pycache__").mkdir(parents=True)
    (src / "layer" / "mylib" / "__init__.py").write_text("NAME = 'mylib'\n")
    (src / "layer" / "mylib" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"stale")
    (src / "layer" / "mylib.egg-info").mkdir()
    (src / "layer" / "requirements.txt").write_text(
        f"# tiny\n--no-index\n--find-links {wheels}\ntinypkg==1.0\n")
    (src / "empty").mkdir()
    (src / "empty" / "requirements.txt").write_text("# nothing yet\n")
    (src / "empty" / "note.py").write_text("")
    (src / "fn").mkdir()
    (src / "fn" / "handler.py").write_text("def handler(event, context):\n    return 1\n")
    (src / "machine.asl.json").write_text('{"StartAt": "A", "States": {}}')
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return tmp_path


def build(project: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--template", str(project / "template.yaml"),
         "--build-dir", str(project / ".aws-sam" / "build"),
         "--cache-dir", str(project / ".aws-sam" / "cache"),
         "--json", str(project / "sizes.json"), "--no-compile", *extra],
        capture_output=True, text=True, timeout=300, cwd=project,
    )


def test_requirements_mirror_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = [*project["dependencies"], *project["optional-dependencies"]["aws"]]
    lines = (ROOT / "layers" / "deps" / "requirements.txt").read_text().splitlines()
    assert lines[0].startswith("#") and "pyproject" in "".join(lines[:4])
    listed = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert listed == expected


def test_build_writes_sam_layout(project: Path) -> None:
    # WHEN the build runs
    result = build(project)
    assert result.returncode == 0, result.stdout + result.stderr
    out = project / ".aws-sam" / "build"
    # THEN each layer's python/ holds its sources and its installed requirements
    layer = out / "TinyLayer" / "python"
    assert (layer / "mylib" / "__init__.py").is_file()
    assert (layer / "tinypkg" / "__init__.py").read_text() == "VALUE = 42\n"
    assert (layer / "tinypkg-1.0.dist-info" / "METADATA").is_file()
    # AND stale bytecode, egg-info and the requirements file are not shipped
    assert not list(out.rglob("__pycache__"))
    assert not list(out.rglob("*.egg-info"))
    assert not (layer / "requirements.txt").exists()
    assert (out / "EmptyLayer" / "python" / "note.py").is_file()
    # AND the function folder is copied under its logical id
    assert (out / "Fn" / "handler.py").is_file()


def test_built_template(project: Path) -> None:
    assert build(project).returncode == 0
    out = project / ".aws-sam" / "build"
    built = yaml.safe_load((out / "template.yaml").read_text())
    resources = built["Resources"]
    # built artefacts are named by logical id, relative to the built template
    assert resources["Fn"]["Properties"]["CodeUri"] == "Fn"
    assert resources["TinyLayer"]["Properties"]["ContentUri"] == "TinyLayer"
    assert resources["EmptyLayer"]["Properties"]["ContentUri"] == "EmptyLayer"
    # paths sam does not build still point at the sources
    definition = out / resources["Machine"]["Properties"]["DefinitionUri"]
    assert definition.resolve() == (project / "src" / "machine.asl.json").resolve()
    # intrinsics survive in their long form
    env = resources["Fn"]["Properties"]["Environment"]["Variables"]
    assert env == {"STAGE": {"Ref": "Stage"}, "NAME": {"Fn::Sub": "${AWS::StackName}-${Stage}"}}
    assert resources["Machine"]["Properties"]["DefinitionSubstitutions"]["FnArn"] == {
        "Fn::GetAtt": ["Fn", "Arn"]}
    assert built["Globals"]["Function"]["Layers"] == [{"Ref": "TinyLayer"}]
    assert built["Transform"] == "AWS::Serverless-2016-10-31"


def test_size_report(project: Path) -> None:
    result = build(project)
    assert result.returncode == 0
    report = json.loads((project / "sizes.json").read_text())
    out = project / ".aws-sam" / "build"
    assert set(report["artefacts"]) == {"TinyLayer", "EmptyLayer", "Fn"}
    [fn] = report["functions"]
    assert fn["function"] == "Fn"
    assert fn["layers"] == ["TinyLayer", "EmptyLayer"]  # Globals first, as SAM merges them
    expected = sum(report["artefacts"][n] for n in ("Fn", "TinyLayer", "EmptyLayer"))
    assert fn["bytes"] == expected
    assert report["artefacts"]["Fn"] == (out / "Fn" / "handler.py").stat().st_size
    assert fn["over_limit"] is False
    for name in ("TinyLayer", "EmptyLayer", "Fn"):
        assert name in result.stdout
    assert "external, not counted: Fn::Sub" in result.stdout


def test_rerun_reuses_installed_requirements(project: Path) -> None:
    first = build(project)
    assert "pip install" in first.stdout
    (project / "src" / "fn" / "extra.py").write_text("X = 1\n")
    second = build(project)
    assert second.returncode == 0, second.stderr
    assert "pip install" not in second.stdout  # cached by requirements + platform
    out = project / ".aws-sam" / "build"
    assert (out / "TinyLayer" / "python" / "tinypkg" / "__init__.py").is_file()
    assert (out / "Fn" / "extra.py").is_file()  # sources are copied afresh
    # a changed requirements file is installed again
    requirements = project / "src" / "layer" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "# changed\n")
    assert "pip install" in build(project).stdout


def test_over_the_limit_fails(project: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script()
    monkeypatch.setattr(script, "LIMIT_BYTES", 10)
    code = script.main(["--template", str(project / "template.yaml"),
                        "--build-dir", str(project / ".aws-sam" / "build"),
                        "--cache-dir", str(project / ".aws-sam" / "cache"), "--no-compile"])
    assert code == 1
    assert "over Lambda's 250 MB unzipped limit: Fn" in capsys.readouterr().err


def test_platform_tags_cover_lambda_glibc() -> None:
    tags = load_script().platforms("arm64")
    assert tags[0] == "manylinux2014_aarch64"
    assert "manylinux_2_28_aarch64" in tags and "manylinux_2_34_aarch64" in tags
    assert all(t.endswith("x86_64") for t in load_script().platforms("x86_64"))


def test_real_template_sources_exist() -> None:
    # GIVEN the project's template WHEN every function and layer is resolved
    script = load_script()
    template = script.load_template(ROOT / "template.yaml")
    globals_ = template.get("Globals", {}).get("Function", {})
    found = 0
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            code = ROOT / props.get("CodeUri", globals_.get("CodeUri", ""))
            assert code.is_dir(), f"{logical_id}: CodeUri {code} is missing"
            handler = props.get("Handler", globals_.get("Handler", ""))
            runtime = props.get("Runtime", globals_.get("Runtime", ""))
            module = handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
            target = code / (module if runtime.startswith("python") and "." in handler
                             and not handler.endswith(".sh") else handler)
            assert target.is_file(), f"{logical_id}: handler {handler} not in {code}"
            found += 1
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            content = ROOT / props["ContentUri"]
            assert content.is_dir(), f"{logical_id}: ContentUri {content} is missing"
            found += 1
    # THEN they all map to existing folders, and the API function is among them
    assert found >= 2
