"""Class-data sharing for the gateway JVM (knit._cds): an archive is made by
the first gateway, used by the next, and left out where it cannot apply."""
import os

import pytest

from knit import _cds
from knit.gateway import Gateway, _java_executable


def test_the_first_gateway_makes_the_archive_and_the_next_one_maps_it(
        minicluster, tmp_path, monkeypatch):
    monkeypatch.setattr(_cds, "CACHE", tmp_path)
    first = Gateway()
    try:
        assert first.client.version()
    finally:
        first.close()
    [archive] = tmp_path.glob("gateway-*.jsa")
    assert archive.stat().st_size > 1 << 20          # the Hadoop client's classes
    assert not list(tmp_path.glob("*.tmp"))
    second = Gateway()
    try:
        flags = second._cds.flags
        assert any(f == f"-XX:SharedArchiveFile={archive}" for f in flags), flags
        assert second.client.version()
        # The JVM really mapped it: its own view of the shared archive.
        pid = second.proc.pid
        maps = open(f"/proc/{pid}/maps").read()
        assert str(archive) in maps
    finally:
        second.close()


@pytest.mark.unit
def test_no_flags_where_cds_cannot_help(tmp_path, monkeypatch):
    monkeypatch.setattr(_cds, "CACHE", tmp_path)
    java = _java_executable()
    assert _cds.gateway_archive(java, ["/x.jar"], environ={"KNIT_CDS": "0"}).flags == []
    fake = tmp_path / "jdk8" / "bin" / "java"
    fake.parent.mkdir(parents=True)
    fake.write_text("")
    (tmp_path / "jdk8" / "release").write_text('JAVA_VERSION="1.8.0_402"\n')
    assert _cds.java_feature_version(str(fake)) == 8
    assert _cds.gateway_archive(str(fake), ["/x.jar"], environ={}).flags == []


@pytest.mark.unit
def test_the_archive_key_follows_the_jars(tmp_path):
    java = _java_executable()
    jar = tmp_path / "a.jar"
    jar.write_bytes(b"one")
    before = _cds.archive_key(java, [str(jar)])
    os.utime(jar, ns=(1, 1))
    assert _cds.archive_key(java, [str(jar)]) != before
