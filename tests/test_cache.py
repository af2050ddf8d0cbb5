"""The HDFS upload cache: listing, eviction, and the sweep of partial uploads."""
import subprocess
import uuid
import zipfile

from knit.cli import main

from helpers import hdfs_list, poll, sha256_file


def _archive(tmp_path):
    path = tmp_path / f"data-{uuid.uuid4().hex[:8]}.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.txt", uuid.uuid4().hex)
    return path


def test_cache_ls_and_clean_keep_what_running_apps_need(k, tmp_path, capsys):
    env = _archive(tmp_path)
    digest = sha256_file(env)
    k.start("sleep 600", env=str(env))
    entries = [e for e in k.cache_entries() if e["hash"] == digest]
    assert [(e["name"], e["size"], e["partial"]) for e in entries] == \
        [(env.name, env.stat().st_size, False)]
    assert main(["cache", "ls"]) == 0
    assert env.name in capsys.readouterr().out
    # Recently used: an age limit keeps it; and while the app runs, even 0 does.
    assert not any(digest in p for p in k.clean_cache(older_than="1d"))
    assert not any(digest in p for p in k.clean_cache())
    assert any(e["hash"] == digest for e in k.cache_entries())
    k.kill()
    assert main(["cache", "clean", "--older-than", "0"]) == 0
    assert digest in capsys.readouterr().out
    assert not any(e["hash"] == digest for e in k.cache_entries())


def test_cache_clean_rejects_a_bad_duration(minicluster, capsys):
    assert main(["cache", "clean", "--older-than=-3d"]) == 2     # bad input
    assert "duration" in capsys.readouterr().err


def test_submit_sweeps_old_partial_uploads(minicluster, k):
    # What a gateway JVM killed in the middle of an upload leaves behind.
    root = f"/user/{k.conf.user}/.knit/cache/{'0' * 64}"
    partial = f"{root}/.env.zip.1234abcd.tmp"
    subprocess.run(["hdfs", "dfs", "-mkdir", "-p", root], check=True, timeout=120)
    subprocess.run(["hdfs", "dfs", "-touchz", partial], check=True, timeout=120)
    assert any(e["partial"] for e in k.cache_entries())
    k.partial_upload_age = 0
    k.start("true", wait=False)
    poll(lambda: ".env.zip.1234abcd.tmp" not in hdfs_list(minicluster, root), timeout=120)
