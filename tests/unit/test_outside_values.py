"""Values from outside: numbers and secrets read by `bot.bounds`, stored text cleaned, and the
client's address behind the proxies a deployment trusts (`bot.web.forwarded`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bounds import (
    MAX_TELEGRAM_ID,
    clean_text,
    parse_float,
    parse_id,
    same_secret,
    telegram_id,
)
from bot.config import Settings, trusted_proxies
from bot.web.forwarded import TrustedProxies, client_key


@pytest.mark.parametrize("text", ["²", "1²", "١٢", "１２", " 12", "+1", "", "9" * 23, "-1"])
def test_an_id_is_plain_digits_in_range(text: str) -> None:
    assert parse_id(text, high=MAX_TELEGRAM_ID) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("39.9105", 39.9105), ("-0.5", -0.5), ("116", 116.0), (".5", 0.5)],
)
def test_a_coordinate_is_a_plain_decimal(text: str, value: float) -> None:
    assert parse_float(text, low=-180, high=180) == value


@pytest.mark.parametrize("text", ["nan", "inf", "1e3", "１２", "1_0", "181", "", "--1", "1.2.3"])
def test_anything_else_is_not_a_coordinate(text: str) -> None:
    assert parse_float(text, low=-180, high=180) is None


def test_stored_text_keeps_words_and_loses_controls() -> None:
    text = "Lamp\u202e 0001-GV\u202c broken\x07\r\nsince\u2066 Monday\u2069\tnow 👩\u200d🔧"
    assert clean_text(text) == "Lamp 0001-GV broken\nsince Monday\tnow 👩\u200d🔧"


def test_a_secret_compares_whatever_is_presented() -> None:
    assert same_secret("abc", "abc")
    assert not same_secret("é", "abc")  # hmac.compare_digest raises on this pair of str
    assert not same_secret("\udcff", "abc")
    assert not same_secret(None, "abc")


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "127.0.0.1"])
    # Not a proxy: its own address, whatever it claims.
    assert proxies.client("203.0.113.9", ["198.51.100.1"]) == "203.0.113.9"
    # The rightmost hop the trusted proxies did not write is the client.
    assert proxies.client("127.0.0.1", ["198.51.100.1"]) == "198.51.100.1"
    assert proxies.client("127.0.0.1", ["6.6.6.6, 198.51.100.1, 10.1.2.3"]) == "198.51.100.1"
    assert proxies.client("127.0.0.1", ["6.6.6.6", "198.51.100.1:5123"]) == "198.51.100.1"
    assert proxies.client("10.0.0.5", ["[2001:db8::7]:443"]) == "2001:db8::7"
    # A proxy that wrote garbage: nothing left of it is believed.
    assert proxies.client("127.0.0.1", ["6.6.6.6, not-an-address"]) == "127.0.0.1"
    assert proxies.client("127.0.0.1", []) == "127.0.0.1"
    assert proxies.scheme("127.0.0.1", ["https"], "http") == "https"
    assert proxies.scheme("127.0.0.1", ["ftp"], "http") == "http"
    assert proxies.scheme("203.0.113.9", ["https"], "http") == "http"
    assert not TrustedProxies().trusts("127.0.0.1")


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_trusted_proxies_are_checked_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    assert trusted_proxies("10.0.0.0/8, ::1 ,127.0.0.1") == ("10.0.0.0/8", "::1", "127.0.0.1")
    with pytest.raises(ValueError, match="not an address"):
        trusted_proxies("10.0.0.0/8, l0calhost")
    monkeypatch.setenv("GRIDVOICE_TRUSTED_PROXIES", "172.16.0.0/12")
    monkeypatch.setenv("GRIDVOICE_WEB_HEADER_TIMEOUT", "7.5")
    monkeypatch.setenv("GRIDVOICE_METRICS_TOKEN", "t0ken")
    settings = Settings.from_env()
    assert settings.web_trusted_proxies == ("172.16.0.0/12",)
    assert settings.web_header_timeout == 7.5 and settings.metrics_token == "t0ken"
    monkeypatch.setenv("GRIDVOICE_WEB_BODY_TIMEOUT", "0")
    with pytest.raises(ValueError, match="above 0"):
        Settings.from_env()


def test_the_courier_is_on_unless_turned_off_and_keeps_its_journals_beside_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'gv.db'}")
    settings = Settings.from_env()
    assert settings.courier and settings.courier_directory() == tmp_path / "courier"
    monkeypatch.setenv("GRIDVOICE_COURIER", "off")
    monkeypatch.setenv("GRIDVOICE_COURIER_DIR", str(tmp_path / "journals"))
    settings = Settings.from_env()
    assert not settings.courier and settings.courier_directory() == tmp_path / "journals"


def test_a_telegram_id_from_an_update_is_a_bounded_int() -> None:
    assert telegram_id(42, low=1) == 42 and telegram_id(-1001234) == -1001234
    for bad in (None, "42", 4.0, True, 0, MAX_TELEGRAM_ID + 1, -MAX_TELEGRAM_ID - 1):
        assert telegram_id(bad) is None
    assert telegram_id(-5, low=1) is None  # a user id is positive


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("GRIDVOICE_POLL_INTERVAL", "5", "GRIDVOICE_POLL_INTERVAL must be 0 to 1 seconds"),
        ("GRIDVOICE_SEND_RATE", "fast", "a setting in the environment is not valid"),
    ],
)
def test_a_mistyped_setting_is_one_line_on_stderr_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    name: str,
    value: str,
    said: str,
) -> None:
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'gv.db'}")
    monkeypatch.setenv(name, value)
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gridvoice: {said}") and err.count("\n") == 1
    assert "Traceback" not in err and not (tmp_path / "gv.db").exists()
