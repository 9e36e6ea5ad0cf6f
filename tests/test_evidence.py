"""Evidence stores: a real directory, and a real S3 API (moto in server mode on loopback)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from exporter.sources.frames import evidence as evidence_module
from exporter.sources.frames.evidence import (
    Evidence,
    EvidenceError,
    LocalEvidenceStore,
    S3EvidenceStore,
    camera_segment,
    make_evidence_store,
    parse_key,
)

T0 = 1_790_000_000.0  # 2026-09-21T14:13:20Z
STAMP0 = "20260921T141320Z"
DAY = 86_400.0
SECRET = "sekret-S3-key-9f2c7a1e55"
ACCESS = "vigil-test-access"


def jpeg(tag: str, size: int = 2000) -> bytes:
    body = (tag.encode() * (size // max(1, len(tag)) + 1))[:size]
    return b"\xff\xd8\xff\xe0" + body + b"\xff\xd9"


def files_under(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


# --- names ------------------------------------------------------------------------------------


def test_keys_are_path_safe_and_reversible():
    assert camera_segment("cam-1") == "cam-1"
    for camera in ["../../etc", "a/b", "a%2Fb", "..", ".", "x\x00y", "Kamera Süd", "/abs"]:
        segment = camera_segment(camera)
        assert "/" not in segment and "\x00" not in segment
        assert not segment.startswith(".")
        key = f"{segment}/{STAMP0}-black.jpg"
        parsed = parse_key(key)
        assert parsed is not None and parsed.camera == camera and parsed.time == T0
    assert camera_segment("a/b") != camera_segment("a%2Fb")
    for bad in ["", None]:
        with pytest.raises(ValueError):
            camera_segment(bad)
    for key in [
        "../../etc/passwd",
        "/etc/passwd",
        f"../cam/{STAMP0}-black.jpg",
        f"cam/../{STAMP0}-black.jpg",
        f"cam/{STAMP0}-black.jpg/..",
        f"cam/sub/{STAMP0}-black.jpg",
        f".hidden/{STAMP0}-black.jpg",
        f"cam/{STAMP0}-black.jpg\n",
        f"cam%2/{STAMP0}-black.jpg",
        f"cam/{STAMP0}-black.png",
        "",
    ]:
        assert parse_key(key) is None, key


# --- local directory --------------------------------------------------------------------------


async def test_local_put_latest_open(tmp_path):
    store = LocalEvidenceStore(tmp_path / "evidence", retention_seconds=7 * DAY)
    first = await store.put("cam-1", "black", T0, jpeg("a"))
    assert first == Evidence("cam-1", "black", T0, f"cam-1/{STAMP0}-black.jpg", 2006)
    await store.put("cam-1", "blur", T0 + 5, jpeg("b", 3000))
    newer = await store.put("cam-1", "black", T0 + 60.5, jpeg("c", 100))
    await store.put("cam-2", "frozen", T0 + 1, jpeg("d"))

    latest = await store.latest("cam-1")
    assert [item.problem for item in latest] == ["black", "blur"]
    assert latest[0] == newer and latest[0].time == T0 + 60.5 and latest[0].size == 106
    assert await store.latest("cam-3") == []
    # an older piece of evidence arriving late does not become the newest
    await store.put("cam-1", "black", T0 - 100, jpeg("late"))
    assert (await store.latest("cam-1"))[0] == newer

    assert await store.open(first.key) == jpeg("a")
    assert await store.open(newer.key) == jpeg("c", 100)
    assert await store.open(f"cam-1/{STAMP0}-occluded.jpg") is None
    assert files_under(tmp_path / "evidence") == [
        "cam-1/20260921T141140Z-black.jpg",
        f"cam-1/{STAMP0}-black.jpg",
        "cam-1/20260921T141325Z-blur.jpg",
        "cam-1/20260921T141420Z-black.jpg",
        "cam-2/20260921T141321Z-frozen.jpg",
    ]
    await store.close()


async def test_local_writes_are_atomic_and_leave_no_temp_files(tmp_path, monkeypatch):
    root = tmp_path / "evidence"
    store = LocalEvidenceStore(root, retention_seconds=DAY)
    await asyncio.gather(
        *(store.put(f"cam-{i % 7}", "blur", T0 + i, jpeg(str(i), 50_000)) for i in range(60))
    )
    names = files_under(root)
    assert len(names) == 60
    assert not [name for name in names if name.rsplit("/", 1)[1].startswith(".")]

    # a failure just before the rename: no partial file, no temp file, a counted error
    real_replace = os.replace

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(evidence_module.os, "replace", broken_replace)
    with pytest.raises(EvidenceError) as failed:
        await store.put("cam-9", "black", T0, jpeg("x"))
    assert failed.value.reason == "error"
    assert "No space left" in str(failed.value)
    monkeypatch.setattr(evidence_module.os, "replace", real_replace)
    assert files_under(root / "cam-9") == []
    assert await store.latest("cam-9") == []

    # a temp file left by a crash is removed at the next start and never shows up as evidence
    leftover = root / "cam-1" / f".{STAMP0}-frozen.jpg.0123456789ab.tmp"
    leftover.write_bytes(b"half a jp")
    restarted = LocalEvidenceStore(root, retention_seconds=DAY)
    await restarted.start()
    assert not leftover.exists()
    assert all(item.problem == "blur" for item in await restarted.latest("cam-1"))


async def test_local_prune_applies_retention(tmp_path):
    root = tmp_path / "evidence"
    store = LocalEvidenceStore(root, retention_seconds=DAY)
    await store.put("cam-1", "black", T0, jpeg("old"))
    await store.put("cam-1", "black", T0 + 10, jpeg("old2"))
    await store.put("cam-1", "blur", T0 + DAY, jpeg("new"))
    await store.put("cam-2", "frozen", T0 + 100, jpeg("old3"))
    keep = await store.put("cam-2", "frozen", T0 + DAY + 100, jpeg("new2"))
    (root / "cam-1" / "notes.txt").write_text("not evidence")

    assert await store.prune(T0 + DAY + 50) == 2  # T0 and T0 + 10
    assert [item.problem for item in await store.latest("cam-1")] == ["blur"]
    assert await store.latest("cam-2") == [keep]
    assert await store.open(f"cam-1/{STAMP0}-black.jpg") is None
    assert (root / "cam-1" / "notes.txt").exists()
    assert await store.prune(T0 + DAY + 50) == 0
    assert await store.prune(T0 + DAY + 101) == 1  # frozen at T0 + 100
    assert await store.latest("cam-2") == [keep]
    assert await store.prune(T0 + 10 * DAY) == 2
    assert await store.latest("cam-1") == [] and await store.latest("cam-2") == []


async def test_local_path_traversal_is_rejected(tmp_path):
    root = tmp_path / "evidence"
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"not yours")
    store = LocalEvidenceStore(root, retention_seconds=DAY)

    for camera in ["../../etc", "..", "a/b", "/abs", "x\x00y", ".."]:
        item = await store.put(camera, "black", T0, jpeg(camera))
        path = (root / item.key).resolve()
        assert path.parent.parent == root.resolve(), item.key
        assert await store.open(item.key) == jpeg(camera)
        assert [e.camera for e in await store.latest(camera)] == [camera]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence", "secret.jpg"]

    for key in [
        "../../etc/passwd",
        "/etc/passwd",
        "../secret.jpg",
        f"../evidence/cam/{STAMP0}-black.jpg",
        str(outside),
    ]:
        assert await store.open(key) is None, key
    # a valid-looking key that is a symlink out of the directory is not followed
    (root / "cam-1").mkdir()
    (root / "cam-1" / f"{STAMP0}-black.jpg").symlink_to(outside)
    assert await store.open(f"cam-1/{STAMP0}-black.jpg") is None
    (root / "evil").symlink_to(tmp_path, target_is_directory=True)
    assert await store.open("evil/secret.jpg") is None

    for bad_problem in ["../x", "a/b", "", "x" * 65]:
        with pytest.raises(ValueError):
            await store.put("cam-1", bad_problem, T0, b"x")
    with pytest.raises(ValueError):
        await store.put("cam-1", "black", float("nan"), b"x")


async def test_local_index_is_rebuilt_after_restart_and_latest_does_not_scan(tmp_path, monkeypatch):
    root = tmp_path / "evidence"
    store = LocalEvidenceStore(root, retention_seconds=DAY)
    for i in range(50):
        await store.put(f"cam-{i}", "black", T0 + i, jpeg(f"b{i}"))
        await store.put(f"cam-{i}", "black", T0 + 100 + i, jpeg(f"B{i}"))
        await store.put(f"cam-{i}", "displaced", T0 + 200 + i, jpeg(f"d{i}"))
    await store.put("a/b", "occluded", T0, jpeg("slash"))
    before = {f"cam-{i}": await store.latest(f"cam-{i}") for i in range(50)}
    await store.close()

    restarted = LocalEvidenceStore(root, retention_seconds=DAY)
    await restarted.start()

    def no_scanning(*args, **kwargs):
        raise AssertionError("latest() must answer from the index")

    monkeypatch.setattr(evidence_module.os, "scandir", no_scanning)
    for camera, items in before.items():
        again = await restarted.latest(camera)
        # same keys and sizes; times are the key's whole second after a restart
        assert [(e.key, e.size, e.time) for e in again] == [
            (e.key, e.size, float(int(e.time))) for e in items
        ]
    assert [e.problem for e in await restarted.latest("a/b")] == ["occluded"]
    assert await restarted.open(before["cam-7"][0].key) == jpeg("B7")


async def test_local_latest_with_thousands_of_cameras_is_cheap(tmp_path, monkeypatch):
    root = tmp_path / "evidence"
    store = LocalEvidenceStore(root, retention_seconds=DAY)
    await asyncio.gather(*(store.put(f"cam-{i}", "frozen", T0, b"j") for i in range(2000)))
    calls = 0
    real_scandir = os.scandir

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return real_scandir(*args, **kwargs)

    monkeypatch.setattr(evidence_module.os, "scandir", counting)
    started = time.perf_counter()
    for i in range(2000):
        assert len(await store.latest(f"cam-{i}")) == 1
    assert calls == 0
    assert time.perf_counter() - started < 2.0


def test_make_evidence_store(tmp_path):
    local = make_evidence_store("local", directory=tmp_path, retention_seconds=60)
    assert isinstance(local, LocalEvidenceStore)
    remote = make_evidence_store(
        "s3",
        bucket="b",
        prefix="evidence",
        retention_seconds=60,
        endpoint_url="http://127.0.0.1:9",
        access_key=ACCESS,
        secret_key=SECRET,
    )
    assert isinstance(remote, S3EvidenceStore)
    assert remote.prefix == "evidence/"
    assert SECRET not in repr(remote) and SECRET not in str(vars(remote))
    with pytest.raises(ValueError):
        make_evidence_store("ftp")


# --- S3 (moto server on loopback) -------------------------------------------------------------


def _require_moto():
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        message = 'moto is not installed (pip install "moto[server]")'
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        import boto3  # noqa: F401
    except ImportError:
        message = "boto3 is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return ThreadedMotoServer


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Dummy credentials and region; no real AWS config, no instance-metadata lookups."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture(scope="module")
def moto_endpoint():
    server_class = _require_moto()
    server = server_class(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    yield f"http://127.0.0.1:{port}"
    server.stop()


_buckets = iter(range(1_000_000))


@pytest.fixture
def bucket(moto_endpoint, aws_env):
    import boto3

    name = f"vigil-evidence-{next(_buckets)}"
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
    )
    client.create_bucket(Bucket=name)
    yield name, client
    client.close()


def s3_store(endpoint: str, bucket: str, **overrides) -> S3EvidenceStore:
    options = {
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "access_key": ACCESS,
        "secret_key": SECRET,
        "connect_timeout": 1.0,
        "read_timeout": 5.0,
        "max_attempts": 1,
    }
    options.update(overrides)
    return S3EvidenceStore(bucket, "vigil/evidence", DAY, **options)


async def test_s3_put_latest_open_prune(moto_endpoint, bucket):
    name, client = bucket
    store = s3_store(moto_endpoint, name)
    await store.start()
    first = await store.put("cam-1", "black", T0, jpeg("a"))
    assert first == Evidence("cam-1", "black", T0, f"cam-1/{STAMP0}-black.jpg", 2006)
    await store.put("cam-1", "blur", T0 + 5, jpeg("b", 3000))
    newer = await store.put("cam-1", "black", T0 + 60, jpeg("c", 100))
    await store.put("cam/../2", "frozen", T0 + DAY, jpeg("d"))

    head = client.head_object(Bucket=name, Key=f"vigil/evidence/{first.key}")
    assert head["ContentType"] == "image/jpeg"
    listed = sorted(o["Key"] for o in client.list_objects_v2(Bucket=name)["Contents"])
    assert listed == [
        "vigil/evidence/cam%2F..%2F2/20260922T141320Z-frozen.jpg",
        f"vigil/evidence/cam-1/{STAMP0}-black.jpg",
        "vigil/evidence/cam-1/20260921T141325Z-blur.jpg",
        "vigil/evidence/cam-1/20260921T141420Z-black.jpg",
    ]

    latest = await store.latest("cam-1")
    assert [(e.problem, e.key, e.size, e.time) for e in latest] == [
        ("black", newer.key, 106, T0 + 60),
        ("blur", "cam-1/20260921T141325Z-blur.jpg", 3006, T0 + 5),
    ]
    assert [e.camera for e in await store.latest("cam/../2")] == ["cam/../2"]
    assert await store.latest("cam-404") == []

    assert await store.open(first.key) == jpeg("a")
    assert await store.open(f"cam-1/{STAMP0}-occluded.jpg") is None
    assert await store.open("../../etc/passwd") is None

    assert await store.prune(T0 + DAY - 1) == 0
    assert await store.prune(T0 + DAY + 61) == 3
    assert await store.latest("cam-1") == []
    assert await store.open(first.key) is None
    assert [e.camera for e in await store.latest("cam/../2")] == ["cam/../2"]
    assert await store.prune(T0 + 3 * DAY) == 1
    await store.close()


async def test_s3_missing_bucket_is_not_found(moto_endpoint, aws_env):
    store = s3_store(moto_endpoint, "no-such-bucket-here")
    for call in (
        store.start(),
        store.put("cam-1", "black", T0, jpeg("a")),
        store.latest("cam-1"),
        store.open(f"cam-1/{STAMP0}-black.jpg"),
        store.prune(T0),
    ):
        with pytest.raises(EvidenceError) as failed:
            await call
        assert failed.value.reason == "not_found", failed.value
        assert SECRET not in str(failed.value) and SECRET not in repr(failed.value)
        assert failed.value.__cause__ is None
    await store.close()


async def test_s3_unreachable_endpoint_fails_fast(aws_env):
    with socket.socket() as sock:  # a loopback port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = s3_store(f"http://127.0.0.1:{port}", "evidence")
    started = time.monotonic()
    with pytest.raises(EvidenceError) as failed:
        await store.put("cam-1", "black", T0, jpeg("a"))
    assert time.monotonic() - started < 5
    assert failed.value.reason == "unreachable"
    assert f"127.0.0.1:{port}" in str(failed.value)
    assert SECRET not in str(failed.value) and SECRET not in repr(failed.value)
    assert SECRET not in repr(store)
    with pytest.raises(EvidenceError) as failed:
        await store.latest("cam-1")
    assert failed.value.reason == "unreachable"
    await store.close()


def test_s3_error_reasons_and_secret_scrubbing(aws_env):
    pytest.importorskip("botocore")
    from botocore.exceptions import ClientError, NoCredentialsError

    store = s3_store("http://127.0.0.1:9", "evidence")

    def client_error(code: str, status: int, message: str = "") -> ClientError:
        return ClientError(
            {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            "PutObject",
        )

    assert store._error(client_error("AccessDenied", 403), "put").reason == "denied"
    assert store._error(client_error("InvalidAccessKeyId", 403), "put").reason == "denied"
    assert store._error(client_error("NoSuchBucket", 404), "put").reason == "not_found"
    assert store._error(client_error("InternalError", 500), "put").reason == "error"
    assert store._error(NoCredentialsError(), "put").reason == "denied"
    leaky = store._error(client_error("SignatureDoesNotMatch", 403, f"we saw {SECRET}!"), "put")
    assert leaky.reason == "denied"
    assert SECRET not in str(leaky) and "***" in str(leaky)
