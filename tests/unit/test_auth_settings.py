"""Authentication settings: one-line start-up errors that never echo a secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lambdarag.config import Settings, SettingsError, load_settings

SECRET = "a" * 32
HASH = "{bcrypt}$2b$04$/ykRc3CKPwaXsCvNaG.my.G6vQuH/cK3rHNDLl07kT45KUrST5X0i"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def error(**settings: object) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(**settings)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_defaults_are_lightrags() -> None:
    s = load_settings()
    assert (s.lightrag_api_key, s.whitelist, s.accounts, s.jwt_algorithm) == (
        None, ("/health", "/api/*"), {}, "HS256")
    assert (s.token_expire_hours, s.guest_token_expire_hours, s.token_renew_threshold) == (48, 24, 0.5)
    assert (s.login_max_failed_attempts, s.login_lockout_window_seconds) == (5, 300)
    assert s.cors_origin_list == ["*"]


def test_accounts_and_workspace_limits_parse() -> None:
    s = load_settings(auth_accounts=f" alice:pw:with:colons , bob:{HASH},", token_secret=SECRET,
                      auth_account_workspaces="alice: finance | hr ,bob:*")
    assert s.accounts == {"alice": "pw:with:colons", "bob": HASH}
    assert s.account_workspaces == {"alice": ("finance", "hr")}


@pytest.mark.parametrize(("settings", "message"), [
    ({"auth_accounts": "alice:pw"}, "TOKEN_SECRET: must be set when AUTH_ACCOUNTS is set"),
    ({"auth_accounts": "alice:pw", "token_secret": "lightrag-jwt-default-secret-key!"},
     "TOKEN_SECRET: is a public default or placeholder"),
    ({"auth_accounts": "alice:pw", "token_secret": "short"},
     "TOKEN_SECRET: must be at least 32 bytes long"),
    ({"auth_accounts": "alice:pw,nocolon-hunter2", "token_secret": SECRET},
     "AUTH_ACCOUNTS: entry 2 is malformed: write user:password"),
    ({"auth_accounts": "alice:", "token_secret": SECRET}, "AUTH_ACCOUNTS: entry 1 ('alice') is malformed"),
    ({"auth_accounts": "alice:a,alice:b", "token_secret": SECRET},
     "AUTH_ACCOUNTS: entry 2 ('alice'): the user is listed twice"),
    ({"auth_accounts": "alice:{bcrypt}$2b$12$tooshort", "token_secret": SECRET},
     "AUTH_ACCOUNTS: entry 1 ('alice'): the {bcrypt} hash is not a bcrypt hash"),
    ({"auth_accounts": "alice:pw", "token_secret": SECRET, "auth_account_workspaces": "bob:x"},
     "AUTH_ACCOUNT_WORKSPACES: user 'bob' is not in AUTH_ACCOUNTS"),
    ({"auth_accounts": "alice:pw", "token_secret": SECRET, "auth_account_workspaces": "alice:../x"},
     "AUTH_ACCOUNT_WORKSPACES: user 'alice': Invalid workspace name '../x'"),
    ({"auth_accounts": "alice:pw", "token_secret": SECRET, "auth_account_workspaces": "alice"},
     "AUTH_ACCOUNT_WORKSPACES: entry 'alice' is malformed"),
    ({"jwt_algorithm": "none"}, "JWT_ALGORITHM: Input should be 'HS256', 'HS384' or 'HS512'"),
    ({"lightrag_api_key": "your-secure-api-key-here"}, "LIGHTRAG_API_KEY: is a documentation placeholder"),
    ({"token_renew_threshold": 2}, "TOKEN_RENEW_THRESHOLD: Input should be less than or equal to 1"),
])
def test_bad_values_stop_start_up_with_one_line(settings: dict[str, object], message: str) -> None:
    assert error(**settings).startswith(message)


def test_secrets_are_never_echoed() -> None:
    message = error(auth_accounts="alice:hunter2,bob", token_secret=SECRET)
    assert "hunter2" not in message and "(got" not in message
    assert "tiny-secret" not in error(auth_accounts="alice:pw", token_secret="tiny-secret")
    settings = load_settings(auth_accounts="alice:hunter2", token_secret=SECRET,
                             lightrag_api_key="key-0123456789")
    assert not {"hunter2", SECRET, "key-0123456789"} & set(repr(settings).split("'"))


def test_an_empty_api_key_means_none() -> None:
    assert load_settings(lightrag_api_key="  ").lightrag_api_key is None


def test_the_cli_stops_with_one_line_without_a_token_secret(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "lambdarag.cli", "serve"], cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "AUTH_ACCOUNTS": "admin:hunter2"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("lambdarag: invalid setting: TOKEN_SECRET: must be set")
    assert "hunter2" not in line
