"""The SAM template against the code it deploys: lint, table, state machine, handlers, env, IAM.

GIVEN template.yaml (read with cfn-lint's decoder, which understands !Ref, !Sub, ...)
WHEN it is compared with the engine, the ASL and the function folders
THEN every name it wires matches something real, and every IAM statement names resources.
"""

from __future__ import annotations

import ast
import copy
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from lambdarag.config import Settings
from lambdarag.storage.dynamodb.graph import graph_definition
from lambdarag.storage.dynamodb.table import table_definition

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "infra" / "statemachine.asl.json"

# Read by the Lambda entry points (functions/*), not by the engine's settings: the secret to load.
ENTRY_POINT_VARIABLES = {"LAMBDARAG_SECRET_ARN"}
# Read by Powertools (logger, metrics) and by Lambda Web Adapter / the Lambda runtime.
TOOL_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "AWS_LAMBDA_EXEC_WRAPPER"}
TOOL_PREFIXES = ("AWS_LWA_",)

# Actions that do not support resource-level permissions, so AWS documents Resource "*" for
# them: the CloudWatch Logs delivery actions Step Functions needs for execution logging.
STAR_ACTIONS = {
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    tpl, errors = decode(str(TEMPLATE))
    assert not errors, f"template.yaml does not parse: {errors}"
    assert tpl is not None
    return tpl


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


# --------------------------------------------------------------------------- lint
def test_lint_template_passes() -> None:
    """GIVEN scripts/lint-template WHEN run THEN cfn-lint and sam validate --lint succeed."""
    env = {**os.environ}
    result = subprocess.run(
        [str(ROOT / "scripts" / "lint-template")], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=1800, check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/lint-template failed ({result.returncode}):\n"
                    f"{result.stdout}\n{result.stderr}")


# --------------------------------------------------------------------------- DynamoDB
def table_differences(props: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """What differs between the template's table properties and ``table_definition()``."""
    problems = [
        f"{key}: template {props.get(key)!r} != engine {expected[key]!r}"
        for key in ("BillingMode", "KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes")
        if props.get(key) != expected[key]
    ]
    if props.get("PointInTimeRecoverySpecification") != {"PointInTimeRecoveryEnabled": True}:
        problems.append("point-in-time recovery is not enabled")
    if props.get("SSESpecification", {}).get("SSEEnabled") is not True:
        problems.append("server-side encryption is not enabled")
    return problems


def test_table_matches_engine_definition(template: dict[str, Any]) -> None:
    tables = resources(template, "AWS::DynamoDB::Table")
    assert sorted(tables) == ["GraphTable", "StateTable"], f"found {sorted(tables)}"
    assert table_differences(tables["StateTable"]["Properties"], table_definition("any")) == []
    assert table_differences(tables["GraphTable"]["Properties"], graph_definition("any")) == []
    assert tables["GraphTable"]["Condition"] == "IsLowCost"


def test_table_comparison_catches_a_changed_projection(template: dict[str, Any]) -> None:
    """The comparison itself must be able to fail: one wrong projection is reported."""
    props = resources(template, "AWS::DynamoDB::Table")["StateTable"]["Properties"]
    broken = copy.deepcopy(props)
    broken["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "ALL"}
    assert table_differences(broken, table_definition("any"))


# --------------------------------------------------------------------------- state machine
def test_definition_substitutions_cover_the_asl_placeholders(template: dict[str, Any]) -> None:
    machines = resources(template, "AWS::Serverless::StateMachine")
    assert machines, "no AWS::Serverless::StateMachine in the template"
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", ASL.read_text(encoding="utf-8")))
    for name, res in machines.items():
        props = res["Properties"]
        assert props["DefinitionUri"] == "infra/statemachine.asl.json"
        given = set(props.get("DefinitionSubstitutions", {}))
        assert given == placeholders, (
            f"{name}: missing {sorted(placeholders - given)}, unused {sorted(given - placeholders)}")


# --------------------------------------------------------------------------- handlers
def _top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_every_handler_exists(template: dict[str, Any]) -> None:
    functions = resources(template, "AWS::Serverless::Function")
    assert functions
    missing = []
    for name, res in functions.items():
        props = res["Properties"]
        code = ROOT / props["CodeUri"]
        handler = props["Handler"]
        if handler.endswith(".sh"):  # Lambda Web Adapter start script
            script = code / handler
            if not (script.is_file() and os.access(script, os.X_OK)):
                missing.append(f"{name}: {script} is not an executable file")
            continue
        module, _, attribute = handler.rpartition(".")
        source = code / (module.replace(".", "/") + ".py")
        if not source.is_file():
            missing.append(f"{name}: {source} does not exist")
        elif attribute not in _top_level_names(source):
            missing.append(f"{name}: {source} defines no {attribute}")
    assert not missing, "\n".join(missing)


# --------------------------------------------------------------------------- environment
def _known_variables() -> set[str]:
    known = {name.upper() for name in Settings.model_fields}
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        for choice in getattr(alias, "choices", None) or ([alias] if isinstance(alias, str) else []):
            if isinstance(choice, str):
                known.add(choice.upper())
    sources = [ROOT / "env.example", *(ROOT / "layers" / "core" / "lambdarag").rglob("*.py")]
    for path in sources:
        known.update(re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", path.read_text(encoding="utf-8")))
    return known


def test_every_environment_variable_is_known(template: dict[str, Any]) -> None:
    blocks = [("Globals", template.get("Globals", {}).get("Function", {}))]
    blocks += [(name, res["Properties"])
               for name, res in resources(template, "AWS::Serverless::Function").items()]
    known = _known_variables() | ENTRY_POINT_VARIABLES | TOOL_VARIABLES
    unknown = sorted(
        f"{where}: {var}"
        for where, props in blocks
        for var in props.get("Environment", {}).get("Variables", {})
        if var not in known and not var.startswith(TOOL_PREFIXES)
    )
    assert not unknown, "variables the engine does not read:\n" + "\n".join(unknown)


# --------------------------------------------------------------------------- IAM
def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []

    def collect(where: str, document: Any) -> None:
        if not isinstance(document, dict):
            return
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if isinstance(statement, dict) and "Fn::If" in statement:
                for branch in statement["Fn::If"][1:]:
                    if isinstance(branch, dict) and "Effect" in branch:
                        found.append((where, branch))
            elif isinstance(statement, dict):
                found.append((where, statement))

    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for policy in props.get("Policies", []) or []:
                collect(name, policy)
        elif res["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            collect(name, props.get("PolicyDocument"))
        elif res["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                collect(name, policy.get("PolicyDocument"))
    return found


def _leaves(value: Any) -> list[Any]:
    """The plain values of ``value``, both branches of every Fn::If included."""
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        return [leaf for branch in value["Fn::If"][1:] for leaf in _leaves(branch)]
    return [value]


def test_iam_statements_name_their_resources(template: dict[str, Any]) -> None:
    statements = _statements(template)
    assert len(statements) >= 10, "expected the template's inline IAM statements"
    wide = []
    for where, statement in statements:
        resources_ = _leaves(statement.get("Resource", []))
        actions = {a for a in _leaves(statement.get("Action", [])) if isinstance(a, str)}
        if statement.get("Effect") == "Allow" and "*" in resources_ and not actions <= STAR_ACTIONS:
            wide.append(f"{where} {statement.get('Sid', '')}: {sorted(map(str, actions))}")
        if any(isinstance(a, str) and a.endswith(":*") for a in actions):
            wide.append(f"{where} {statement.get('Sid', '')}: wildcard action {sorted(actions)}")
    assert not wide, "statements on every resource:\n" + "\n".join(wide)


def test_functions_run_in_the_vpc_on_python312_arm64(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.12"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    assert set(function_globals["VpcConfig"]) == {"SecurityGroupIds", "SubnetIds"}
    for name, res in resources(template, "AWS::Serverless::Function").items():
        props = res["Properties"]
        assert "VpcConfig" not in props, f"{name} overrides the VPC settings"
        assert all(t <= 900 for t in _leaves(props.get("Timeout", 900))), name


def _function_environment(template: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    globals_env = template["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    return {**globals_env, **props.get("Environment", {}).get("Variables", {})}


def test_every_function_shares_the_pipeline_record_and_the_storage(
    template: dict[str, Any],
) -> None:
    # A step Lambda with a local record would never report progress to the API, and one on
    # the embedded store would index into its own /tmp: every function must use the shared ones.
    for name, res in resources(template, "AWS::Serverless::Function").items():
        env = _function_environment(template, res["Properties"])
        assert env.get("LAMBDARAG_PIPELINE_STATUS") == "shared", name
        assert env.get("LIGHTRAG_KV_STORAGE") == "DynamoDBKVStorage", name
        assert env.get("LIGHTRAG_GRAPH_STORAGE") == {
            "Fn::If": ["IsManaged", "NeptuneGraphStorage", "DynamoDBGraphStorage"]}, name
        assert env.get("LIGHTRAG_VECTOR_STORAGE") == {
            "Fn::If": ["IsManaged", "OpenSearchVectorDBStorage", "S3VectorsStorage"]}, name
        # Lambda's only writable folder is /tmp (the defaults ./rag_storage and ./inputs are
        # under the read-only /var/task).
        for folder in ("WORKING_DIR", "INPUT_DIR"):
            assert str(env.get(folder, "")).startswith("/tmp/"), (name, folder)


def test_functions_that_queue_documents_know_the_state_machine_and_the_bucket(
    template: dict[str, Any],
) -> None:
    functions = resources(template, "AWS::Serverless::Function")
    for name in ("ApiFunction", "StreamFunction", "TriggerFunction"):
        env = _function_environment(template, functions[name]["Properties"])
        assert env.get("LAMBDARAG_STATE_MACHINE_ARN") == {"Ref": "IndexingStateMachine"}, name
        assert env.get("LAMBDARAG_INPUT_BUCKET") == {"Ref": "DataBucket"}, name


def test_api_functions_queue_deletes_to_the_trigger_and_may_invoke_it(
    template: dict[str, Any],
) -> None:
    functions = resources(template, "AWS::Serverless::Function")
    trigger_arn = {"Fn::GetAtt": ["TriggerFunction", "Arn"]}
    for name in ("ApiFunction", "StreamFunction"):
        props = functions[name]["Properties"]
        assert _function_environment(template, props).get("LAMBDARAG_DELETE_FUNCTION") == trigger_arn
        statements = [st for policy in props["Policies"] if isinstance(policy, dict)
                      for st in policy.get("Statement", [])]
        assert any(st.get("Action") == "lambda:InvokeFunction" and st.get("Resource") == trigger_arn
                   for st in statements), name


def test_the_stack_creates_the_stores_ahead_and_no_lambda_creates_the_table(
    template: dict[str, Any],
) -> None:
    # The table is the stack's; the indexes come from the StoreSetup custom resource, served
    # by the trigger function, once the Serverless access policy (or the domain) exists.
    for name, res in resources(template, "AWS::Serverless::Function").items():
        env = _function_environment(template, res["Properties"])
        assert env.get("LAMBDARAG_DYNAMODB_CREATE_TABLE") == "false", name
    (setup,) = resources(template, "Custom::LambdaRAGStores").values()
    props = setup["Properties"]
    assert props["ServiceToken"] == {"Fn::GetAtt": ["TriggerFunction", "Arn"]}
    assert props["Workspaces"] == {"Ref": "StoreWorkspaces"}
    assert props["EmbeddingDim"] == {"Ref": "EmbeddingDim"}
    handle = template["Resources"][setup["DependsOn"]]
    assert handle["Metadata"]["VectorAccess"] == {
        "Fn::If": ["IsServerless", {"Ref": "VectorAccessPolicy"},
                   {"Fn::If": ["IsDomain", {"Ref": "VectorDomain"}, {"Ref": "VectorBucket"}]}]}
    assert handle["Metadata"]["Graph"] == {
        "Fn::If": ["IsLowCost", {"Ref": "GraphTable"}, {"Ref": "NeptuneInstance"}]}
    # no function may create the vector bucket either: the stack owns it
    for name, res in resources(template, "AWS::Serverless::Function").items():
        env = _function_environment(template, res["Properties"])
        assert env.get("LAMBDARAG_S3VECTORS_CREATE_BUCKET") == "false", name


# --------------------------------------------------------------------------- storage tiers
def condition_holds(template: dict[str, Any], name: str | None, parameters: dict[str, str]) -> bool:
    """Whether the condition ``name`` (None: no condition) is true for ``parameters``."""
    if name is None:
        return True
    values = {key: str(spec.get("Default", "")) for key, spec in template["Parameters"].items()}
    values.update(parameters)

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (fn, args), = node.items()
            if fn == "Ref":
                return values[args]
            if fn == "Condition":
                return evaluate(template["Conditions"][args])
            if fn == "Fn::Equals":
                return evaluate(args[0]) == evaluate(args[1])
            if fn == "Fn::And":
                return all(evaluate(arg) for arg in args)
            if fn == "Fn::Or":
                return any(evaluate(arg) for arg in args)
            if fn == "Fn::Not":
                return not evaluate(args[0])
        return node

    return bool(evaluate(template["Conditions"][name]))


FIXED_COST_TYPES = ("AWS::EC2::", "AWS::Neptune::", "AWS::OpenSearchServerless::",
                    "AWS::OpenSearchService::")


@pytest.mark.parametrize("variant", [{}, {"VectorStore": "Domain"}, {"NatGateway": "Enabled"},
                                     {"LlmBinding": "bedrock", "StreamingUrl": "Enabled"}])
def test_the_lowcost_tier_creates_nothing_billed_by_the_hour(
    template: dict[str, Any], variant: dict[str, str]
) -> None:
    # GIVEN StorageTier=lowcost, whatever the managed tier's own parameters say
    parameters = {"StorageTier": "lowcost", **variant}
    created = {name: res["Type"] for name, res in template["Resources"].items()
               if condition_holds(template, res.get("Condition"), parameters)}
    # THEN no VPC, subnet, NAT, endpoint, Neptune or OpenSearch resource exists
    assert sorted(n for n, kind in created.items() if kind.startswith(FIXED_COST_TYPES)) == []
    assert {"GraphTable", "VectorBucket", "StateTable", "DataBucket"} <= set(created)


def test_the_managed_tier_keeps_its_stores_and_makes_no_lowcost_ones(
    template: dict[str, Any],
) -> None:
    created = {name for name, res in template["Resources"].items()
               if condition_holds(template, res.get("Condition"), {"StorageTier": "managed"})}
    assert {"Vpc", "NeptuneCluster", "VectorCollection", "NatGatewayResource"} <= created
    assert not {"GraphTable", "VectorBucket"} & created


def test_the_default_tier_is_lowcost(template: dict[str, Any]) -> None:
    assert template["Parameters"]["StorageTier"]["Default"] == "lowcost"


@pytest.mark.parametrize("tier", ["lowcost", "managed"])
def test_cfn_lint_passes_for_each_tier(tier: str) -> None:
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), str(TEMPLATE), "--parameters",
         f"StorageTier={tier}"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_vector_permissions_are_limited_to_the_adapters_indexes(template: dict[str, Any]) -> None:
    statements = {st.get("Sid"): st for where, st in _statements(template)
                  if where == "DataAccessPolicy"}
    indexes = statements["VectorIndexes"]
    assert indexes["Resource"] == {"Fn::Sub": "${VectorBucket.VectorBucketArn}/index/lr-*"}
    assert all(action.startswith("s3vectors:") for action in indexes["Action"])
    assert "s3vectors:CreateVectorBucket" not in str(statements)
