"""rtmps:// between the Python Client and a Python-embedded Server's TLS listener."""

from __future__ import annotations

import subprocess
import threading

import pytest

import rtmp_core

from conftest import need


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for localhost and 127.0.0.1, made with the openssl CLI."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [need("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert.read_bytes(), key.read_bytes()


def test_publish_and_play_over_rtmps(certificate):
    cert, key = certificate
    adts = bytes([0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x5F, 0xFC, 1, 2, 3])
    with rtmp_core.Server([], rtmps=[("127.0.0.1:0", cert, key)]) as server:
        url = f"rtmps://localhost:{server.port}/live/secure"
        # Trusting the certificate itself: the name checked is the URL's host.
        with rtmp_core.Client.play(url, ca_pem=cert) as player:
            player.wait_started(timeout=10)
            received = []
            reader = threading.Thread(target=lambda: received.extend(player.frames(timeout=5)))
            reader.start()
            with rtmp_core.Client.publish(url, ca_pem=cert) as publisher:
                publisher.wait_started(timeout=10)
                for n in range(50):
                    publisher.write_audio(adts, pts=n * 21)
            reader.join(timeout=20)
    assert [f.sequence_header for f in received].count(False) == 50
    assert all(f.codec == "aac" for f in received)


def test_certificates_are_checked(certificate):
    cert, key = certificate
    with rtmp_core.Server([], rtmps=[("127.0.0.1:0", cert, key)]) as server:
        base = f"rtmps://127.0.0.1:{server.port}/live"
        # The system's roots do not know a self-signed certificate.
        with rtmp_core.Client.publish(f"{base}/untrusted", connect_timeout=5) as client:
            with pytest.raises(rtmp_core.RtmpError):
                client.wait_started(timeout=10)
        # Trusted, but for another name.
        with rtmp_core.Client.publish(f"{base}/misnamed", ca_pem=cert, server_name="example.com") as client:
            with pytest.raises(rtmp_core.RtmpError):
                client.wait_started(timeout=10)
        # The explicit opt-out for test servers.
        with rtmp_core.Client.publish(f"{base}/insecure", insecure_skip_verify=True) as client:
            client.wait_started(timeout=10)
