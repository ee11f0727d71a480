"""MQTT logins and TLS against a real Mosquitto: credentials, CA trust, client certificates.

One Mosquitto for the module, with a password file, no anonymous access and four listeners:
plain, TLS, TLS with a certificate for another host name, and TLS requiring a client
certificate. The CAs and certificates are made here with ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import json
import logging
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_PROFILES, _require_mosquitto
from tests.gateways.test_mqtt_gateway import wait_for
from vth.cli import app
from vth.gateways.broker import free_port
from vth.gateways.errors import BrokerError
from vth.gateways.mosquitto import MosquittoProcess
from vth.gateways.mqtt import Ingestor, MqttGateway
from vth.gateways.quarantine import Quarantine
from vth.gateways.topics import TopicTemplate
from vth.runtime import Service
from vth.sensing.buffer import StreamBuffer
from vth.settings import Settings

pytestmark = pytest.mark.broker

USER = "vth-gateway"
PASSWORD = "s3cret-Pa55word"  # must never show up in an error, a log line or a repr
BT = int(time.time()) - 12 * 3600


# --- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issuer:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _builder(subject: str, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey):
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def make_ca(name: str) -> Issuer:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        _builder(name, subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issuer(subject, key, cert)


def issue(
    ca: Issuer, subject: str, directory: Path, *, names: list[str] | None = None, client=False
) -> tuple[Path, Path]:
    """A certificate signed by ``ca``, for a server (``names``) or a client; PEM files."""
    key = _key()
    builder = (
        _builder(subject, ca.name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
    )
    if names:
        alt: list[x509.GeneralName] = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(ca.key, hashes.SHA256())
    cert_file, key_file = directory / f"{subject}.crt", directory / f"{subject}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def write_ca(ca: Issuer, path: Path) -> Path:
    path.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    return path


# --- the broker --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecureBroker:
    plain: int  # login required, no TLS
    tls: int  # login and TLS, certificate for 127.0.0.1 and localhost
    tls_wrong_name: int  # login and TLS, certificate for another host
    mtls: int  # login, TLS and a client certificate required
    ca_file: Path  # the CA that signed the broker's and the client's certificates
    other_ca_file: Path  # a CA that signed nothing of this broker's
    client_cert: Path
    client_key: Path
    log: Path

    def url(self, port: int, scheme: str = "mqtts") -> str:
        return f"{scheme}://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    exe = _require_mosquitto()
    passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if exe is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto); CI installs it")
    if not Path(passwd).exists():
        pytest.fail("mosquitto is installed but mosquitto_passwd is not")
    work = tmp_path_factory.mktemp("secure-mosquitto")
    ca, other = make_ca("vth test CA"), make_ca("some other CA")
    ca_file = write_ca(ca, work / "ca.crt")
    other_ca_file = write_ca(other, work / "other-ca.crt")
    server_cert, server_key = issue(ca, "broker", work, names=["127.0.0.1", "localhost"])
    wrong_cert, wrong_key = issue(ca, "elsewhere", work, names=["broker.elsewhere.invalid"])
    client_cert, client_key = issue(ca, "gateway-client", work, client=True)
    password_file = work / "passwords"
    subprocess.run(
        [passwd, "-b", "-c", str(password_file), USER, PASSWORD], check=True, capture_output=True
    )
    password_file.chmod(0o600)
    ports = [free_port() for _ in range(4)]
    tls = f"cafile {ca_file}\ncertfile {server_cert}\nkeyfile {server_key}\n"
    config = work / "mosquitto.conf"
    config.write_text(
        f"user {getpass.getuser()}\n"  # as root, stay root: the files are readable by us only
        "per_listener_settings false\n"
        "allow_anonymous false\n"
        f"password_file {password_file}\n"
        "persistence false\n"
        f"listener {ports[0]} 127.0.0.1\n"
        f"listener {ports[1]} 127.0.0.1\n{tls}"
        f"listener {ports[2]} 127.0.0.1\n"
        f"cafile {ca_file}\ncertfile {wrong_cert}\nkeyfile {wrong_key}\n"
        f"listener {ports[3]} 127.0.0.1\n{tls}"
        "require_certificate true\n"
    )
    broker = MosquittoProcess(exe, config, ports)
    broker.start()
    try:
        plain, tls_port, wrong_name, mtls = ports
        yield SecureBroker(
            plain,
            tls_port,
            wrong_name,
            mtls,
            ca_file,
            other_ca_file,
            client_cert,
            client_key,
            broker.log,
        )
    finally:
        broker.stop()


# --- helpers -----------------------------------------------------------------------------------


_ids = iter(range(10**6))


def make_gateway(url: str, tmp_path: Path, **kwargs) -> MqttGateway:
    ingestor = Ingestor(
        StreamBuffer(),
        Quarantine(tmp_path / "q.jsonl"),
        TopicTemplate("vth/{mba_id}/{sensor_id}"),
        {"avi"},
    )
    return MqttGateway(ingestor, url, client_id=f"sec-gw-{next(_ids)}", **kwargs)


def nox_pack(i: int) -> bytes:
    return json.dumps(
        [{"bn": "cems-l1:", "bt": BT + 60 * i, "n": "NOx", "u": "mg/m3", "v": float(i)}]
    ).encode()


def publish(port: int, n: int, *, tls: SecureBroker | None = None) -> None:
    """Publish ``n`` QoS 1 packs as the sensors would, logged in (and over TLS)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sec-pub-{next(_ids)}")
    client.username_pw_set(USER, PASSWORD)
    if tls is not None:
        client.tls_set(
            ca_certs=str(tls.ca_file),
            certfile=str(tls.client_cert),
            keyfile=str(tls.client_key),
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    connected = threading.Event()

    def on_connect(client, userdata, flags, reason, properties) -> None:
        if not reason.is_failure:
            connected.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        assert connected.wait(10), "the test publisher could not log in"
        infos = [client.publish("vth/avi/cems-l1", nox_pack(i), qos=1) for i in range(n)]
        for info in infos:
            info.wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def assert_flows(gateway: MqttGateway, port: int, broker: SecureBroker, n: int = 25) -> None:
    gateway.start(wait=10)
    try:
        publish(port, n, tls=broker if port != broker.plain else None)
        assert wait_for(lambda: gateway.stats.messages == n), gateway.stats
        assert gateway.wait_idle()
    finally:
        gateway.stop()
    assert gateway.stats.messages == n
    ds = gateway.ingestor.buffer.to_dataset("avi")
    assert ds["NOx"].values.ravel().tolist() == [float(i) for i in range(n)]


def start_error(gateway: MqttGateway, caplog: pytest.LogCaptureFixture) -> str:
    """The BrokerError of start(); it must come at once, not after the 10 s wait."""
    caplog.set_level(logging.DEBUG)
    began = time.monotonic()
    with pytest.raises(BrokerError) as info:
        gateway.start(wait=10)
    assert time.monotonic() - began < 5, "a refusal must not wait for the connect timeout"
    gateway.stop()
    message = str(info.value)
    assert PASSWORD not in message
    assert PASSWORD not in caplog.text
    return message


# --- logins ------------------------------------------------------------------------------------


def test_the_right_login_brings_every_message_in(secure_broker: SecureBroker, tmp_path: Path):
    gateway = make_gateway(
        secure_broker.url(secure_broker.plain, "mqtt"), tmp_path, username=USER, password=PASSWORD
    )
    assert_flows(gateway, secure_broker.plain, secure_broker)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_a_wrong_password_is_a_clear_broker_error(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture, protocol: str
):
    url = secure_broker.url(secure_broker.plain, "mqtt")
    gateway = make_gateway(url, tmp_path, username=USER, password="wrong", protocol=protocol)
    message = start_error(gateway, caplog)
    # Mosquitto 2.0 answers a bad password with "not authorised" (others: bad user name or
    # password); the hint covers both
    assert message == (
        f"MQTT broker 127.0.0.1:{secure_broker.plain} refused the connection "
        f"(user {USER!r}): not authorized; "
        "check the user name and password (VTH_MQTT_USERNAME, VTH_MQTT_PASSWORD)"
    )
    assert not gateway.stats.connected
    # start() gave up: no reconnect loop keeps hammering the broker
    assert gateway._client._thread is None


def test_an_anonymous_gateway_is_refused_as_not_authorised(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    gateway = make_gateway(secure_broker.url(secure_broker.plain, "mqtt"), tmp_path)
    message = start_error(gateway, caplog)
    assert message == (
        f"MQTT broker 127.0.0.1:{secure_broker.plain} refused the connection "
        "(no username given): not authorized; "
        "the broker requires a login: set VTH_MQTT_USERNAME and VTH_MQTT_PASSWORD"
    )


# --- TLS ---------------------------------------------------------------------------------------


def test_tls_with_the_brokers_ca_brings_every_message_in(
    secure_broker: SecureBroker, tmp_path: Path
):
    gateway = make_gateway(
        secure_broker.url(secure_broker.tls),
        tmp_path,
        username=USER,
        password=PASSWORD,
        ca_file=secure_broker.ca_file,
    )
    assert_flows(gateway, secure_broker.tls, secure_broker)


def test_tls_with_another_ca_is_a_clear_error_naming_the_ca_file(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    gateway = make_gateway(
        secure_broker.url(secure_broker.tls),
        tmp_path,
        username=USER,
        password=PASSWORD,
        ca_file=secure_broker.other_ca_file,
    )
    message = start_error(gateway, caplog)
    assert message.startswith(f"TLS with MQTT broker 127.0.0.1:{secure_broker.tls} failed:")
    assert "certificate verify failed" in message
    assert f"CA file {secure_broker.other_ca_file}" in message


def test_a_broker_certificate_for_another_host_is_refused(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    gateway = make_gateway(
        secure_broker.url(secure_broker.tls_wrong_name),
        tmp_path,
        username=USER,
        password=PASSWORD,
        ca_file=secure_broker.ca_file,
    )
    message = start_error(gateway, caplog)
    assert message.startswith("TLS with MQTT broker")
    assert "mismatch" in message  # "IP address mismatch, certificate is not valid for ..."
    assert message.endswith(
        f"the broker's certificate must be signed by CA file {secure_broker.ca_file} "
        "(VTH_MQTT_CA_FILE) and name the host 127.0.0.1"
    )


def test_mutual_tls_with_a_client_certificate_brings_every_message_in(
    secure_broker: SecureBroker, tmp_path: Path
):
    gateway = make_gateway(
        secure_broker.url(secure_broker.mtls),
        tmp_path,
        username=USER,
        password=PASSWORD,
        ca_file=secure_broker.ca_file,
        cert_file=secure_broker.client_cert,
        key_file=secure_broker.client_key,
    )
    assert_flows(gateway, secure_broker.mtls, secure_broker)


def test_mutual_tls_without_a_client_certificate_is_a_clear_error(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    gateway = make_gateway(
        secure_broker.url(secure_broker.mtls),
        tmp_path,
        username=USER,
        password=PASSWORD,
        ca_file=secure_broker.ca_file,
    )
    message = start_error(gateway, caplog)
    assert message.startswith(f"TLS with MQTT broker 127.0.0.1:{secure_broker.mtls} failed:")
    assert "certificate required" in message.lower()
    assert message.endswith(
        "the broker requires a client certificate: set VTH_MQTT_CERT_FILE and VTH_MQTT_KEY_FILE"
    )


def test_a_client_certificate_of_another_ca_is_refused(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    stranger_cert, stranger_key = issue(make_ca("stranger CA"), "stranger", tmp_path, client=True)
    gateway = make_gateway(
        secure_broker.url(secure_broker.mtls),
        tmp_path,
        username=USER,
        password=PASSWORD,
        ca_file=secure_broker.ca_file,
        cert_file=stranger_cert,
        key_file=stranger_key,
    )
    message = start_error(gateway, caplog)
    assert message.startswith(f"TLS with MQTT broker 127.0.0.1:{secure_broker.mtls} failed:")
    assert message.endswith(f"the broker refused the client certificate {stranger_cert}")


def test_tls_to_a_plain_listener_is_a_clear_error(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    gateway = make_gateway(
        secure_broker.url(secure_broker.plain),
        tmp_path,
        username=USER,
        password=PASSWORD,
        ca_file=secure_broker.ca_file,
    )
    # Mosquitto resets the connection: a transient failure as far as the client can tell,
    # so start() waits it out, and then says what went wrong
    began = time.monotonic()
    with pytest.raises(BrokerError) as info:
        gateway.start(wait=2)
    gateway.stop()
    assert time.monotonic() - began < 5
    assert str(info.value) == (
        f"cannot connect to MQTT broker 127.0.0.1:{secure_broker.plain} within 2 s; "
        "last error: [Errno 104] Connection reset by peer in the TLS handshake "
        "(not a TLS listener?); is it running? (the gateway keeps retrying)"
    )


# --- configuration -----------------------------------------------------------------------------


def test_a_client_certificate_needs_its_key(secure_broker: SecureBroker, tmp_path: Path):
    with pytest.raises(BrokerError, match="both a certificate file and a key file"):
        make_gateway(
            secure_broker.url(secure_broker.mtls), tmp_path, cert_file=secure_broker.client_cert
        )


def test_tls_files_on_a_plain_url_are_refused(secure_broker: SecureBroker, tmp_path: Path):
    with pytest.raises(BrokerError, match="not mqtts://"):
        make_gateway(
            secure_broker.url(secure_broker.plain, "mqtt"),
            tmp_path,
            ca_file=secure_broker.ca_file,
        )


def test_an_unreadable_ca_file_is_named(tmp_path: Path):
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(BrokerError, match=f"cannot load CA file {bad}"):
        make_gateway("mqtts://127.0.0.1:8883", tmp_path, ca_file=bad)


def test_an_encrypted_client_key_is_an_error_not_a_passphrase_prompt(
    secure_broker: SecureBroker, tmp_path: Path
):
    key = serialization.load_pem_private_key(secure_broker.client_key.read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(BrokerError, match="the key unencrypted"):
        make_gateway(
            secure_broker.url(secure_broker.mtls),
            tmp_path,
            ca_file=secure_broker.ca_file,
            cert_file=secure_broker.client_cert,
            key_file=encrypted,
        )


def test_settings_check_the_tls_files(secure_broker: SecureBroker, tmp_path: Path):
    url = secure_broker.url(secure_broker.mtls)
    with pytest.raises(ValueError, match="set both or neither"):
        Settings(broker_url=url, mqtt_cert_file=secure_broker.client_cert)
    with pytest.raises(ValueError, match="set both or neither"):
        Settings(broker_url=url, mqtt_key_file=secure_broker.client_key)
    with pytest.raises(ValueError, match="no such file"):
        Settings(broker_url=url, mqtt_ca_file=tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="broker_url must be mqtts://"):
        Settings(broker_url="mqtt://127.0.0.1:1883", mqtt_ca_file=secure_broker.ca_file)
    with pytest.raises(ValueError, match="mqtt_username is not") as info:
        Settings(mqtt_password=PASSWORD)
    assert PASSWORD not in str(info.value)


def test_the_password_stays_out_of_settings_errors_and_reprs(
    secure_broker: SecureBroker, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("VTH_CONFIG", raising=False)
    monkeypatch.setenv("VTH_MQTT_USERNAME", USER)
    monkeypatch.setenv("VTH_MQTT_PASSWORD", PASSWORD)
    monkeypatch.setenv("VTH_MQTT_CERT_FILE", str(secure_broker.client_cert))  # no key file
    with pytest.raises(ValueError) as info:
        Settings(broker_url=secure_broker.url(secure_broker.mtls))
    assert PASSWORD not in str(info.value)
    monkeypatch.delenv("VTH_MQTT_CERT_FILE")
    settings = Settings()
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.model_dump())


def test_serve_check_shows_the_login_but_not_the_password(
    secure_broker: SecureBroker, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("VTH_CONFIG", raising=False)
    env = {
        "VTH_PROFILES_DIR": str(EXAMPLE_PROFILES),
        "VTH_BROKER_URL": secure_broker.url(secure_broker.mtls),
        "VTH_MQTT_USERNAME": USER,
        "VTH_MQTT_PASSWORD": PASSWORD,
        "VTH_MQTT_CA_FILE": str(secure_broker.ca_file),
        "VTH_MQTT_CERT_FILE": str(secure_broker.client_cert),
        "VTH_MQTT_KEY_FILE": str(secure_broker.client_key),
    }
    result = CliRunner().invoke(app, ["serve", "--check"], env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    output = " ".join((result.stdout + result.stderr).split())  # rich wraps long lines
    assert f"user {USER}, password: set" in output
    assert f"client certificate {secure_broker.client_cert}" in output
    assert PASSWORD not in output


def test_the_service_logs_in_with_the_settings_from_the_environment(
    secure_broker: SecureBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("VTH_CONFIG", raising=False)
    for name, value in {
        "VTH_BROKER_URL": secure_broker.url(secure_broker.mtls),
        "VTH_MQTT_USERNAME": USER,
        "VTH_MQTT_PASSWORD": PASSWORD,
        "VTH_MQTT_CA_FILE": str(secure_broker.ca_file),
        "VTH_MQTT_CERT_FILE": str(secure_broker.client_cert),
        "VTH_MQTT_KEY_FILE": str(secure_broker.client_key),
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(
        profiles_dir=EXAMPLE_PROFILES,
        database_url=f"sqlite:///{tmp_path / 'vth.db'}",
        quarantine_path=tmp_path / "quarantine.jsonl",
        journal_path=tmp_path / "journal.jsonl",
        journal_archive_dir=None,
        raster_spool_dir=tmp_path / "rasters",
        records_path=tmp_path / "records.jsonl",
        mqtt_client_id="sec-service",
    )
    service = Service(settings)
    service.start()  # raises BrokerError unless login, CA and client certificate all pass
    try:
        assert service.gateway is not None
        assert service.gateway.stats.connected
    finally:
        service.stop()
