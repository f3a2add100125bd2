"""Downloading a model by URL against a local HTTP server on 127.0.0.1: full download, resume with Range,
servers that ignore Range or break the connection, hash refusal, HTTP errors, cancel, size limit, bad schemes."""

import hashlib
import os
import random
import socket

import pytest
from modelServer import ModelServer

from VirtualBiopsy.errors import CancelledError, InputError, ModelError
from VirtualBiopsy.models.download import downloadVerified, modelCacheFolder
from VirtualBiopsy.progress import CancelToken

CHUNK = 256 * 1024
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def model() -> bytes:
    """A small "model": 3 MB of seeded random bytes, so a download flows in several chunks."""
    return random.Random(13).randbytes(3 * 2**20)


@pytest.fixture
def server(model):
    server = ModelServer().start()
    server.files["/model.pt"] = model
    yield server
    server.stop()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(server, destination, model, **options):
    options = {"timeout": TIMEOUT, "chunkSize": CHUNK, **options}
    return downloadVerified(server.url("/model.pt"), destination, sha(model), **options)


def test_full_download_equals_served_bytes_and_progress_ends_at_one(server, model, tmp_path):
    fractions = []
    path = download(server, tmp_path / "cache" / "model.pt", model, progress=lambda f, m: fractions.append(f))
    assert path == tmp_path / "cache" / "model.pt"
    assert path.read_bytes() == model
    assert not (tmp_path / "cache" / "model.pt.partial").exists()
    assert server.requests == [("/model.pt", None)]
    assert len(fractions) >= len(model) // CHUNK
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] < 0.5


def test_verified_file_makes_no_request(server, model, tmp_path):
    (tmp_path / "model.pt").write_bytes(model)
    assert download(server, tmp_path / "model.pt", model).read_bytes() == model
    assert server.requests == []


def test_existing_file_with_wrong_hash_is_replaced(server, model, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"an older version")
    assert download(server, tmp_path / "model.pt", model).read_bytes() == model
    assert len(server.requests) == 1


def test_broken_download_keeps_partial_then_resumes_with_range(server, model, tmp_path):
    broken = 1_000_000
    server.dropAfter = broken
    with pytest.raises(ModelError, match=r"stopped after 1000000 of 3145728 bytes.*re-run resumes"):
        download(server, tmp_path / "model.pt", model)
    partial = tmp_path / "model.pt.partial"
    assert partial.stat().st_size == broken and not (tmp_path / "model.pt").exists()
    server.dropAfter = None
    fractions = []
    path = download(server, tmp_path / "model.pt", model, progress=lambda f, m: fractions.append(f))
    assert server.requests[-1] == ("/model.pt", f"bytes={broken}-")
    assert path.read_bytes() == model and not partial.exists()
    assert fractions[0] > broken / len(model) - 1e-9 and fractions[-1] == 1.0


def test_server_ignoring_range_restarts_from_zero(server, model, tmp_path):
    (tmp_path / "model.pt.partial").write_bytes(b"x" * 500_000)  # wrong bytes: a resume would not verify
    server.ignoreRange = True
    path = download(server, tmp_path / "model.pt", model)
    assert server.requests == [("/model.pt", "bytes=500000-")]
    assert path.read_bytes() == model and not (tmp_path / "model.pt.partial").exists()


def test_range_past_the_end_verifies_a_complete_partial(server, model, tmp_path):
    (tmp_path / "model.pt.partial").write_bytes(model)
    assert download(server, tmp_path / "model.pt", model).read_bytes() == model
    assert server.requests == [("/model.pt", f"bytes={len(model)}-")]


def test_wrong_hash_is_refused_and_nothing_is_kept(server, model, tmp_path):
    server.wrongBytes = True
    served = bytes(255 - b for b in model[:16]) + model[16:]
    with pytest.raises(ModelError) as caught:
        download(server, tmp_path / "model.pt", model)
    message = str(caught.value)
    assert sha(served) in message and sha(model) in message and server.url("/model.pt") in message
    assert sorted(os.listdir(tmp_path)) == []


def test_http_404_and_500_name_the_url_and_status(server, model, tmp_path):
    with pytest.raises(ModelError, match=r"/missing\.pt failed: HTTP 404"):
        downloadVerified(server.url("/missing.pt"), tmp_path / "m.pt", sha(model), timeout=TIMEOUT)
    server.status = 500
    with pytest.raises(ModelError, match=r"/model\.pt failed: HTTP 500.*try again"):
        download(server, tmp_path / "model.pt", model)
    assert os.listdir(tmp_path) == []


def test_connection_refused_is_a_model_error(model, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ModelError, match=rf"127\.0\.0\.1:{port}/model\.pt failed .*network"):
        downloadVerified(f"http://127.0.0.1:{port}/model.pt", tmp_path / "m.pt", sha(model), timeout=TIMEOUT)


def test_cancel_keeps_partial_and_a_later_call_resumes(server, model, tmp_path):
    token = CancelToken()
    with pytest.raises(CancelledError):
        download(server, tmp_path / "model.pt", model, cancel=token, progress=lambda f, m: token.cancel())
    partial = tmp_path / "model.pt.partial"
    assert partial.stat().st_size == CHUNK and not (tmp_path / "model.pt").exists()
    assert download(server, tmp_path / "model.pt", model).read_bytes() == model
    assert server.requests[-1] == ("/model.pt", f"bytes={CHUNK}-")


def test_oversized_response_is_refused(server, model, tmp_path):
    with pytest.raises(ModelError, match=r"at least 3145728 bytes but the model is 1000 bytes"):
        download(server, tmp_path / "model.pt", model, size=1000)
    server.noLength = True  # no Content-Length: the streamed bytes are counted instead
    with pytest.raises(ModelError, match=r"at least \d+ bytes but the model is 1000 bytes"):
        download(server, tmp_path / "model.pt", model, size=1000)
    assert os.listdir(tmp_path) == []


def test_unsupported_schemes_and_redirects_are_refused(server, model, tmp_path):
    with pytest.raises(InputError, match=r"'ftp://example\.org/model\.pt' is refused"):
        downloadVerified("ftp://example.org/model.pt", tmp_path / "m.pt", sha(model))
    with pytest.raises(InputError, match="64 hexadecimal"):
        downloadVerified(server.url("/model.pt"), tmp_path / "m.pt", "abc")
    server.redirectTo = "file:///etc/passwd"
    with pytest.raises(ModelError, match="redirects to 'file:///etc/passwd'"):
        download(server, tmp_path / "model.pt", model)
    assert os.listdir(tmp_path) == []


def test_file_url_serves_a_local_mirror(model, tmp_path):
    (tmp_path / "mirror.pt").write_bytes(model)
    path = downloadVerified((tmp_path / "mirror.pt").as_uri(), tmp_path / "cache" / "model.pt", sha(model))
    assert path.read_bytes() == model


def test_model_cache_folder(tmp_path):
    assert modelCacheFolder({"VIRTUAL_BIOPSY_CACHE": str(tmp_path)}) == tmp_path / "models"
    assert modelCacheFolder({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "virtual-biopsy" / "models"
    assert modelCacheFolder({}).parts[-3:] == (".cache", "virtual-biopsy", "models")
