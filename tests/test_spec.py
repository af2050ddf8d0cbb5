"""The application spec: validation before submit, dict/JSON/YAML round trips, skein's layout."""
import warnings

import pytest

from knit import ApplicationSpec, File, Knit, Resources, Service
from knit.exceptions import KnitTypeError, KnitValueError

TRICKY = "\tlead\f$HOME 'single' \"double\" back\\slash é ☃ 😀\nsecond line"


def two_services():
    return ApplicationSpec(
        name="ps", queue="default", tags=["a", "b"], priority=1, max_attempts=2,
        lifetime=3600, acls={"view_users": ["bob"], "modify_groups": ["ops"]},
        master={"resources": {"memory": "256 MiB", "vcores": 1}},
        services={
            "server": Service("echo server", resources=Resources(memory="1 GiB", gpus=1),
                              env={"X": TRICKY}, max_restarts=2,
                              files={"hosts": File("/etc/hosts")}),
            "worker": Service("echo worker $KNIT_INSTANCE", instances=3, depends=["server"],
                              nodes=["localhost"], relax_locality=False),
        })


def test_round_trips_keep_every_value():
    spec = two_services()
    assert ApplicationSpec.from_dict(spec.to_dict()) == spec
    assert ApplicationSpec.from_json(spec.to_json()) == spec
    assert ApplicationSpec.from_yaml(spec.to_yaml()) == spec
    assert ApplicationSpec.from_yaml(spec.to_yaml()).services["server"].env["X"] == TRICKY
    assert spec.services["server"].resources.memory == 1024
    assert spec.master.resources.memory == 256


@pytest.mark.parametrize("make, words", [
    (lambda: Service("true", instances="2"), ["instances must be an int", "Service(..., instances=2)"]),
    (lambda: Service("true", max_restarts=-2), ["max_restarts must be at least -1"]),
    (lambda: Service(""), ["non-empty shell script", "Service('python worker.py')"]),
    (lambda: Service("true", env={"1X": "v"}), ["not a shell variable name"]),
    (lambda: Service("true", env={"X": "a\0b"}), ["NUL"]),
    (lambda: Service("true", nodes="a,b"), ["list of names", "nodes=['a', 'b']"]),
    (lambda: Service("true", relax_locality=False), ["needs nodes or racks"]),
    (lambda: Service("true", node_label="gpu", nodes=["h"]), ["node label together"]),
    (lambda: Service("true", files={"a/b": "/etc/hosts"}), ["not a link name"]),
    (lambda: Service("true", files={"a": "/etc/hosts", "b": "/etc/hosts"}),
     ["two link names", "keep one"]),
    (lambda: File("/tmp/data.zip", type="file"), ["YARN unpacks a file by its own suffix"]),
    (lambda: Resources(memory="lots"), ["'2 GiB'"]),
    (lambda: Resources(vcores=0), ["vcores must be at least 1"]),
    (lambda: ApplicationSpec({}), ["at least one service"]),
    (lambda: ApplicationSpec({"a b": Service("true")}), ["service name 'a b'"]),
    (lambda: ApplicationSpec({"w": Service("true", depends=["db"])}), ["depends on 'db'"]),
    (lambda: ApplicationSpec({"a": Service("true", depends=["b"]),
                              "b": Service("true", depends=["a"])}), ["circle", "a -> b -> a"]),
    (lambda: ApplicationSpec({"a": Service("true")}, file_systems=["nn:8020"]), ["URIs"]),
])
def test_bad_specs_are_refused_at_construction_naming_the_fix(make, words):
    with pytest.raises((KnitValueError, KnitTypeError)) as e:
        make()
    for w in words:
        assert w in str(e.value)


def test_skein_fields_knit_cannot_honour_are_refused_and_others_ignored_with_a_warning():
    with pytest.raises(KnitValueError, match="runs no user script: make it a service"):
        ApplicationSpec.from_yaml("master: {script: echo hi}\nservices: {a: {script: 'true'}}")
    # skein's user is impersonation in knit too (Knit.submit acts for that user).
    assert ApplicationSpec.from_yaml("user: alice\nservices: {a: {script: 'true'}}").user == "alice"
    with pytest.raises(KnitValueError, match="allow_failures"):
        ApplicationSpec.from_yaml("services: {a: {script: 'true', allow_failures: true}}")
    with pytest.raises(KnitValueError, match="has no field 'comands'; its fields are: script"):
        ApplicationSpec.from_yaml("services: {a: {comands: ['true']}}")
    with pytest.raises(KnitValueError, match="not valid YAML"):
        ApplicationSpec.from_yaml("services: {a: [")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        spec = ApplicationSpec.from_yaml(
            "master: {log_level: debug}\n"
            "acls: {enable: false, view_users: [bob], ui_users: [carl]}\n"
            "services: {a: {script: 'true', files: {h: {source: /etc/hosts, visibility: public}},"
            " resources: {memory: 2 GiB, vcores: 1, gpus: 0, fpgas: 1}}}")
    said = " ".join(str(x.message) for x in w)
    assert "master.log_level" in said and "visibility" in said
    assert spec.acls.view_users == []            # skein's enable: false drops the lists
    assert spec.services["a"].resources.other == {"yarn.io/fpga": 1}


def test_relative_files_of_a_spec_file_are_relative_to_it(tmp_path):
    (tmp_path / "data.txt").write_text("x")
    (tmp_path / "spec.yaml").write_text("services: {a: {script: cat data.txt, files: "
                                        "{data.txt: data.txt}}}")
    spec = ApplicationSpec.from_yaml(str(tmp_path / "spec.yaml"))
    assert spec.services["a"].files["data.txt"].source == str(tmp_path / "data.txt")


def test_submit_refuses_missing_files_and_oversized_services_before_submitting(k):
    spec = ApplicationSpec({"a": Service("true", files={"x": "/nonexistent/x"})})
    with pytest.raises(KnitValueError, match="does not exist"):
        k.submit(spec)
    big = ApplicationSpec({"a": Service("true", resources={"memory": 10**7})})
    with pytest.raises(KnitValueError, match="above the largest container"):
        k.submit(big)
    with pytest.raises(KnitTypeError, match="takes an ApplicationSpec"):
        k.submit(42)
    assert k.app_id is None                         # nothing was submitted


def test_a_missing_spec_file_is_named_not_parsed_as_yaml(tmp_path, capsys):
    missing = str(tmp_path / "app.yaml")
    with pytest.raises(KnitValueError, match="no such file"):
        ApplicationSpec.from_yaml(missing)
    from knit.cli import main
    assert main(["submit", missing]) != 0
    assert "no such file" in capsys.readouterr().err
