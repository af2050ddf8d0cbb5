"""The application spec: services, their resources and files, validated at construction.

An :class:`ApplicationSpec` is the one producer of the keys that reach
Java: :meth:`ApplicationSpec.to_dict` is what crosses (as JSON) to the
gateway and the ApplicationMaster, and what the AM serves back
(``knit spec APP``).  Its YAML form is skein's application spec for the
fields knit supports, so a skein spec runs as is; what knit ignores or
refuses is listed in :data:`SKEIN_IGNORED` and :data:`SKEIN_REFUSED`.

The checks of values (types, ranges, names) live here and are shared by
:meth:`knit.Knit.start`; the checks against local files and the cluster
run at submit (:mod:`knit.checks`).

Examples
--------
>>> from knit import ApplicationSpec, Service, Resources
>>> spec = ApplicationSpec(name='ps', services={
...     'server': Service('python server.py', resources=Resources(memory='256 MiB')),
...     'worker': Service('python worker.py', instances=2, depends=['server'])})
>>> spec.services['server'].resources.memory
256
>>> ApplicationSpec.from_yaml(spec.to_yaml()) == spec
True
>>> Service('true', instances=-1)
Traceback (most recent call last):
...
knit.exceptions.KnitValueError: instances must be at least 0, got -1
"""
import dataclasses
import json
import os
import re
import warnings
from dataclasses import dataclass, field

from .exceptions import KnitTypeError, KnitValueError

# -- the value rules (shared with Knit.start) ---------------------------------


def positive_int(name, value, minimum=1, function="start"):
    """Refuse ``value`` unless it is an int of at least ``minimum``.

    Examples
    --------
    >>> positive_int('memory', '128')
    Traceback (most recent call last):
    ...
    knit.exceptions.KnitTypeError: memory must be an int, got '128' (str); e.g. start(..., memory=128)
    """
    if not isinstance(value, int) or isinstance(value, bool):
        hint = int(value) if isinstance(value, str) and value.isdigit() else max(minimum, 1)
        raise KnitTypeError(f"{{p:{name}}} must be an int, got {value!r} "
                            f"({type(value).__name__}); e.g. {{fix}}", fix={name: hint},
                            function=function)
    if value < minimum:
        raise KnitValueError(f"{{p:{name}}} must be at least {minimum}, got {value}")


def name_list(name, value, function="start"):
    """Refuse anything but a list of non-empty names without commas (or None)."""
    if value is None:
        return
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) and v and "," not in v for v in value):
        raise KnitTypeError(f"{{p:{name}}} must be a list of names, e.g. {{fix}}, got "
                            f"{value!r}", fix={name: [v for v in str(value).split(",") if v]},
                            function=function)


def nonempty_str(name, value):
    if not isinstance(value, str) or not value:
        raise KnitTypeError(f"{name} must be a non-empty string, got {value!r}")


def check_envvars(envvars, name="envvars"):
    """Refuse environment variables a shell could not hold."""
    if not isinstance(envvars, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in envvars.items()):
        raise KnitTypeError(f"{name} must be a dict of str to str, got {envvars!r}; "
                            f"e.g. {name}={{'MY_VAR': '1'}}")
    for key, value in envvars.items():
        # Values travel in knit's worker script, single-quoted, not through
        # YARN's launch script: anything but NUL (which no environment can
        # hold) arrives as given.
        if not key.isascii() or not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise KnitValueError(
                f"{{p:{name}}} name {key!r} is not a shell variable name (letters, digits "
                f"and _, not starting with a digit): e.g. {name}={{'MY_VAR': '1'}}")
        if "\0" in value:
            raise KnitValueError(
                f"{name}[{key!r}] contains a NUL character, which no environment "
                f"variable can hold: remove it, or pass the data in a file (files=[...])")


def path_list(name, value):
    """The paths of a list of path strings; a single string is refused."""
    if isinstance(value, (str, bytes, os.PathLike)):
        parts = [p for p in str(value).split(",") if p]
        raise KnitTypeError(
            f"{{p:{name}}} must be a list of paths, not a single string: {{fix}}",
            fix={name: parts})
    if not isinstance(value, (list, tuple)):
        raise KnitTypeError(f"{name} must be a list of paths, got {type(value).__name__}")
    out = []
    for p in value:
        if not isinstance(p, (str, os.PathLike)):
            raise KnitTypeError(f"every entry of {name} must be a path string, got {p!r}")
        out.append(os.fspath(p))
    return out


#: Suffixes YARN unpacks (LocalResourceType.ARCHIVE), as knit names them.
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")

_MEMORY_UNITS = {"": 2**20, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6,
                 "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12,
                 "tb": 10**12, "tib": 2**40}


def parse_memory(value):
    """MiB in ``value``: an int (MiB) or text like ``'2 GiB'``, ``'512 MiB'``, ``'1.5 GB'``.

    As in skein, a bare number is MiB and the result is rounded up to whole MiB.

    Examples
    --------
    >>> parse_memory('2 GiB'), parse_memory(128), parse_memory('1 GB')
    (2048, 128, 954)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
    unit = m and m.group(2).lower()
    if not isinstance(value, str) or not m or unit not in _MEMORY_UNITS:
        raise KnitValueError(f"memory must be MiB (an int) or text like '2 GiB' or "
                             f"'512 MiB', got {value!r}: e.g. Resources(memory='2 GiB')")
    return -(-int(float(m.group(1)) * _MEMORY_UNITS[unit]) // 2**20)


def _strings(name, value):
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) for v in value):
        raise KnitTypeError(f"{name} must be a list of strings, got {value!r}")
    return list(value)


def _fields(cls, d, where, ignored=None, refused=None):
    """The keys of mapping ``d`` that ``cls`` takes.  Unknown keys are
    refused naming the known ones; skein's keys that knit ignores warn, and
    those it cannot honour are refused with the reason, when set."""
    ignored, refused = ignored or {}, refused or {}
    if not isinstance(d, dict):
        raise KnitTypeError(f"{where} must be a mapping, got {d!r}")
    known = [f.name for f in dataclasses.fields(cls)]
    out = {}
    for key, value in d.items():
        unset = value is None or value in ("", [], {}, False)
        if key in refused:
            if not unset:
                raise KnitValueError(f"{where}.{key}: {refused[key]}")
            continue
        if key in ignored:
            if not unset:
                warnings.warn(f"knit ignores {where}.{key}: {ignored[key]}", stacklevel=3)
            continue
        if key not in known:
            raise KnitValueError(f"{where} has no field {key!r}; its fields are: "
                                 f"{', '.join(known)}")
        out[key] = value
    return out


# -- the model -----------------------------------------------------------------


@dataclass
class Resources:
    """The size of each container of a service.

    Parameters
    ----------
    memory : int or str
        MiB, or text like ``'2 GiB'``.
    vcores : int
        Virtual cores.
    gpus : int
        GPUs (YARN's ``yarn.io/gpu`` resource type).
    other : dict, optional
        Other resource types the cluster declares, ``{'yarn.io/fpga': 1}``.

    Examples
    --------
    >>> Resources(memory='1 GiB', vcores=2).to_dict()
    {'memory': 1024, 'vcores': 2, 'gpus': 0, 'other': {}}
    """
    memory: int = 128
    vcores: int = 1
    gpus: int = 0
    other: dict = field(default_factory=dict)

    def __post_init__(self):
        self.memory = parse_memory(self.memory)
        positive_int("memory", self.memory, function="Resources")
        positive_int("vcores", self.vcores, function="Resources")
        positive_int("gpus", self.gpus, minimum=0, function="Resources")
        if not isinstance(self.other, dict) or not all(
                isinstance(k, str) and "/" in k or k.isidentifier() for k in self.other):
            raise KnitTypeError(f"other must map resource type names to counts, e.g. "
                                f"{{'yarn.io/fpga': 1}}, got {self.other!r}")
        for k, v in self.other.items():
            if k in ("memory-mb", "vcores", "yarn.io/gpu"):
                raise KnitValueError(f"other[{k!r}]: use Resources(memory=..., vcores=..., "
                                     f"gpus=...) for YARN's own types")
            positive_int(f"other[{k!r}]", v, minimum=0, function="Resources")
        self.other = dict(self.other)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d, where="resources"):
        if isinstance(d, dict) and "fpgas" in d:
            # skein's fpgas: YARN's yarn.io/fpga resource type.
            d = dict(d)
            fpgas = d.pop("fpgas")
            if fpgas:
                d["other"] = {**(d.get("other") or {}), "yarn.io/fpga": fpgas}
        return cls(**_fields(cls, d, where))


@dataclass
class File:
    """A file linked into each container's working directory.

    Parameters
    ----------
    source : str
        A local path (uploaded at submit; made absolute here) or a URI
        (``hdfs://...``, used in place).
    type : str
        ``'file'``, or ``'archive'`` to have YARN unpack it into a directory
        of the link's name.  YARN unpacks by the file's own suffix, so the
        type follows it: ``'archive'`` for ``.zip``, ``.tar.gz``, ``.tgz``,
        ``.tar``.

    Examples
    --------
    >>> File('hdfs:///data/words.zip').type
    'archive'
    """
    source: str
    type: str = None

    def __post_init__(self):
        if not isinstance(self.source, (str, os.PathLike)) or not os.fspath(self.source):
            raise KnitTypeError(f"a file's source must be a path or URI, got {self.source!r}")
        self.source = os.fspath(self.source)
        if "://" not in self.source:
            self.source = os.path.abspath(os.path.expanduser(self.source))
        kind = "archive" if self.source.lower().endswith(ARCHIVE_SUFFIXES) else "file"
        if self.type is None:
            self.type = kind
        if self.type not in ("file", "archive"):
            raise KnitValueError(f"a file's type is 'file' or 'archive', got {self.type!r}")
        if self.type != kind:
            raise KnitValueError(
                f"{self.source!r} cannot be of type {self.type!r}: YARN unpacks a file by its "
                f"own suffix ({', '.join(ARCHIVE_SUFFIXES)} are archives), so rename it or "
                f"leave type out.")

    def to_dict(self):
        return {"source": self.source, "type": self.type}

    @classmethod
    def from_dict(cls, d, where="file"):
        if isinstance(d, str):
            return cls(d)
        return cls(**_fields(cls, d, where, ignored={
            "visibility": "knit caches environments by content and stages other files "
                          "privately", "size": "knit finds the size itself",
            "timestamp": "knit finds the timestamp itself"}))


_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def localize_files(files, setting, example):
    """``{link name: File}`` from a service configuration's ``localize_files``
    (skein's and yarnspawner's: a path, an ``hdfs://`` URI or a dict with
    ``source``), or an error that names ``setting`` and shows ``example``.

    Examples
    --------
    >>> localize_files({'env': 'hdfs:///envs/e.tar.gz'}, 'c.X.localize_files', 'env.tar.gz')
    {'env': File(source='hdfs:///envs/e.tar.gz', type='archive')}
    """
    out = {}
    for name, value in files.items():
        try:
            out[name] = File.from_dict(value, f"localize_files[{name!r}]")
        except (TypeError, KnitValueError) as e:
            raise KnitValueError(
                f"{setting}[{name!r}] = {value!r}: {e}; give a path, an hdfs:// URI or "
                f"{{'source': ...}}, e.g. {{'environment': {example!r}}}") from None
    return out


@dataclass
class Service:
    """One service: a shell script on ``instances`` like containers.

    Parameters
    ----------
    script : str
        The shell script (bash) each container runs.  It sees
        ``$KNIT_SERVICE``, ``$KNIT_INSTANCE`` (0, 1, ...: a replacement
        keeps the index of the container it replaces), ``$KNIT_APP_ID``,
        ``$KNIT_NUM_INSTANCES`` and ``$CONTAINER_ID``; with ``environment``
        also ``$PYTHON_BIN`` and ``$CONDA_PREFIX``.
    instances : int
        Containers to start (0: none until scaled).
    max_restarts : int
        Times this service's failed containers are replaced, in all (-1: always).
    resources : Resources or dict
    files : dict, optional
        Link name to :class:`File` (or its source).
    env : dict, optional
        Environment variables; values arrive byte for byte.
    environment : str, optional
        A packed Python environment: a path, an ``hdfs://`` URI, or the name
        of one in ``$KNIT_HOME/envs``.
    depends : list of str, optional
        Services whose every instance must have run before this service's
        containers are requested.
    node_label : str, optional
        Node label expression for the containers.
    nodes, racks : list of str, optional
        Preferred hosts / racks.
    relax_locality : bool
        Whether YARN may place containers elsewhere than ``nodes``/``racks``.
    control : bool
        Whether its containers may control the application as its client
        does (scale, add and remove containers, end it), through
        :meth:`knit.Knit.current`; for drivers, as ``knit dask submit``
        runs.  By default a container's credential opens the key-value
        store only.

    Examples
    --------
    >>> Service('echo $KNIT_INSTANCE', instances=3, env={'X': '\\tv'}).env
    {'X': '\\tv'}
    """
    script: str
    instances: int = 1
    max_restarts: int = 0
    resources: Resources = field(default_factory=Resources)
    files: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    environment: str = None
    depends: list = field(default_factory=list)
    node_label: str = None
    nodes: list = field(default_factory=list)
    racks: list = field(default_factory=list)
    relax_locality: bool = True
    control: bool = False

    def __post_init__(self):
        if not isinstance(self.script, str) or not self.script.strip():
            raise KnitTypeError(f"a service's script must be a non-empty shell script, got "
                                f"{self.script!r}: e.g. Service('python worker.py')")
        positive_int("instances", self.instances, minimum=0, function="Service")
        positive_int("max_restarts", self.max_restarts, minimum=-1, function="Service")
        if isinstance(self.resources, dict):
            self.resources = Resources.from_dict(self.resources)
        if not isinstance(self.resources, Resources):
            raise KnitTypeError(f"resources must be a Resources or a dict, got {self.resources!r}")
        if not isinstance(self.files, dict):
            raise KnitTypeError(f"files must map link names to sources, e.g. "
                                f"{{'data.csv': '/path/data.csv'}}, got {self.files!r}")
        self.files = {k: v if isinstance(v, File) else File.from_dict(v, f"files[{k!r}]")
                      for k, v in self.files.items()}
        for name in self.files:
            if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
                raise KnitValueError(f"files: {name!r} is not a link name (a file name "
                                     f"without '/')")
        sources = [f.source for f in self.files.values()]
        twice = sorted({src for src in sources if sources.count(src) > 1})
        if twice:
            # The NodeManager keys a container's resources by their URL: two
            # link names of one file leave only one of the links.
            raise KnitValueError(f"files: {twice[0]!r} is given under two link names; YARN "
                                 f"links a file once per container: keep one, or copy it.")
        self.env = dict(self.env or {})
        check_envvars(self.env, "env")
        if self.environment is not None:
            if not isinstance(self.environment, (str, os.PathLike)):
                raise KnitTypeError(f"environment must be the path or name of a packed "
                                    f"environment, got {self.environment!r}")
            self.environment = os.fspath(self.environment)
        self.depends = _strings("depends", self.depends)
        if self.node_label is not None and not isinstance(self.node_label, str):
            raise KnitTypeError(f"node_label must be a string, got {self.node_label!r}")
        self.node_label = self.node_label or None
        name_list("nodes", self.nodes or None, function="Service")
        name_list("racks", self.racks or None, function="Service")
        self.nodes, self.racks = list(self.nodes or []), list(self.racks or [])
        if not isinstance(self.relax_locality, bool):
            raise KnitTypeError(f"relax_locality must be True or False, got {self.relax_locality!r}")
        if not isinstance(self.control, bool):
            raise KnitTypeError(f"control must be True or False, got {self.control!r}")
        if not self.relax_locality and not (self.nodes or self.racks):
            raise KnitValueError("relax_locality=False needs nodes or racks: e.g. "
                                 "Service(..., nodes=['host1'], relax_locality=False)")
        if self.node_label and (self.nodes or self.racks):
            raise KnitValueError("YARN does not accept a node label together with nodes or "
                                 "racks: give one or the other")

    def to_dict(self):
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["resources"] = self.resources.to_dict()
        d["files"] = {k: v.to_dict() for k, v in self.files.items()}
        return d

    @classmethod
    def from_dict(cls, d, where="service"):
        d = _fields(cls, d, where, refused={
            "allow_failures": "knit fails the application when a service fails beyond "
                              "max_restarts; remove allow_failures (or raise max_restarts, "
                              "-1 for always)"})
        if "script" not in d:
            raise KnitValueError(f"{where} has no script: e.g. script: python worker.py")
        return cls(**d)


@dataclass
class ACLs:
    """Who besides the owner may view or modify the application (YARN's
    ``ApplicationAccessType``).  skein's ``enable: false`` (its default)
    drops the lists.

    Examples
    --------
    >>> ACLs(view_users=['bob']).to_dict()['view_users']
    ['bob']
    """
    view_users: list = field(default_factory=list)
    view_groups: list = field(default_factory=list)
    modify_users: list = field(default_factory=list)
    modify_groups: list = field(default_factory=list)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = _strings(f.name, getattr(self, f.name))
            if any(not v or "," in v or " " in v for v in value):
                raise KnitValueError(f"{f.name} must hold user or group names (no commas "
                                     f"or spaces), got {value!r}")
            setattr(self, f.name, value)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d, where="acls"):
        d = dict(d or {})
        enable = d.pop("enable", True)
        d = _fields(cls, d, where, ignored={"ui_users": "YARN's web UI follows view_users"})
        return cls(**d) if enable else cls()


@dataclass
class Master:
    """The ApplicationMaster's container.  knit's AM runs no user script.

    Examples
    --------
    >>> Master(resources={'memory': '1 GiB'}).resources.memory
    1024
    """
    resources: Resources = field(default_factory=lambda: Resources(memory=512))

    def __post_init__(self):
        if isinstance(self.resources, dict):
            self.resources = Resources(**{"memory": 512, **self.resources})
        if not isinstance(self.resources, Resources):
            raise KnitTypeError(f"master resources must be a Resources or a dict, got "
                                f"{self.resources!r}")
        if self.resources.gpus or self.resources.other:
            raise KnitValueError("the ApplicationMaster takes memory and vcores only")

    def to_dict(self):
        return {"resources": self.resources.to_dict()}

    @classmethod
    def from_dict(cls, d, where="master"):
        no_script = ("knit's ApplicationMaster runs no user script: make it a service "
                     "(services: {driver: {script: ...}})")
        return cls(**_fields(cls, d, where, ignored={
            "log_level": "the AM logs at INFO", "log_config": "the AM logs at INFO"},
            refused={"script": no_script, "files": no_script, "env": no_script}))


@dataclass
class ApplicationSpec:
    """A YARN application of one or more services.

    Parameters
    ----------
    services : dict
        Service name (letters, digits, ``-``, ``_``) to :class:`Service`.
    name, queue : str
        YARN application name and queue.
    tags : list of str, optional
        YARN application tags.
    priority : int
        YARN application priority.
    max_attempts : int
        ApplicationMaster attempts; later attempts keep running containers.
    lifetime : int
        Seconds after which YARN kills the application (0: no limit).
    keep_alive : bool
        Keep running when every container has ended, until killed.  By
        default the application ends once every service's containers
        ended: SUCCEEDED, or FAILED if one failed beyond its service's
        ``max_restarts``.
    node_label : str, optional
        Default node label of the services that give none.
    file_systems : list of str, optional
        Other filesystems the containers use (their delegation tokens on
        a Kerberos cluster).
    acls : ACLs or dict, optional
    master : Master or dict, optional
        The ApplicationMaster's resources.
    user : str, optional
        Submit as this user through Hadoop impersonation (skein's
        ``ApplicationSpec.user``): the same as ``Knit(proxy_user=user)``
        for this application.

    Examples
    --------
    >>> spec = ApplicationSpec({'main': Service('hostname', instances=2)}, name='hosts')
    >>> spec.to_dict()['services']['main']['instances']
    2
    >>> ApplicationSpec({'w': Service('true', depends=['db'])})
    Traceback (most recent call last):
    ...
    knit.exceptions.KnitValueError: service 'w' depends on 'db', which is not a service of this application (its services: w)
    """
    services: dict
    name: str = "knit"
    queue: str = "default"
    tags: list = field(default_factory=list)
    priority: int = 0
    max_attempts: int = 1
    lifetime: int = 0
    keep_alive: bool = False
    node_label: str = None
    file_systems: list = field(default_factory=list)
    acls: ACLs = field(default_factory=ACLs)
    master: Master = field(default_factory=Master)
    user: str = None

    def __post_init__(self):
        if not isinstance(self.services, dict) or not self.services:
            raise KnitValueError("an application needs at least one service: e.g. "
                                 "ApplicationSpec({'main': Service('hostname')})")
        services = {}
        for name, svc in self.services.items():
            if not isinstance(name, str) or not _SERVICE_NAME.fullmatch(name):
                raise KnitValueError(f"service name {name!r} must be letters, digits, - and _ "
                                     f"(starting with a letter or digit): e.g. 'worker'")
            services[name] = svc if isinstance(svc, Service) else Service.from_dict(
                svc, f"services.{name}")
        self.services = services
        nonempty_str("name", self.name)
        nonempty_str("queue", self.queue)
        self.user = self.user or None
        if self.user is not None:
            nonempty_str("user", self.user)
        self.tags = _strings("tags", self.tags)
        positive_int("priority", self.priority, minimum=0, function="ApplicationSpec")
        positive_int("max_attempts", self.max_attempts, function="ApplicationSpec")
        if isinstance(self.lifetime, str):
            from .utils import parse_duration
            self.lifetime = int(parse_duration(self.lifetime))
        positive_int("lifetime", self.lifetime, minimum=0, function="ApplicationSpec")
        if not isinstance(self.keep_alive, bool):
            raise KnitTypeError(f"keep_alive must be True or False, got {self.keep_alive!r}")
        self.node_label = self.node_label or None
        self.file_systems = _strings("file_systems", self.file_systems)
        if not all("://" in f for f in self.file_systems):
            raise KnitValueError(f"file_systems must be URIs, e.g. ['hdfs://other-nn:8020'], "
                                 f"got {self.file_systems!r}")
        if isinstance(self.acls, dict):
            self.acls = ACLs.from_dict(self.acls)
        if isinstance(self.master, dict):
            self.master = Master.from_dict(self.master)
        for name, svc in self.services.items():
            for d in svc.depends:
                if d not in self.services:
                    raise KnitValueError(
                        f"service {name!r} depends on {d!r}, which is not a service of this "
                        f"application (its services: {', '.join(self.services)})")
        _no_cycle(self.services)

    # -- conversions -----------------------------------------------------------
    def to_dict(self):
        """Plain data (what crosses to Java as JSON, and the YAML form)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
             if f.name != "services"}
        d["acls"] = self.acls.to_dict()
        d["master"] = self.master.to_dict()
        d["services"] = {k: v.to_dict() for k, v in self.services.items()}
        if d["user"] is None:
            del d["user"]      # the spec of an application submitted as the Knit's own user
        return d

    @classmethod
    def from_dict(cls, d):
        """From :meth:`to_dict`'s form or skein's application spec.

        skein fields knit does not support are ignored with a warning
        (:data:`SKEIN_IGNORED`) or refused with a message
        (:data:`SKEIN_REFUSED`).
        """
        d = _fields(cls, d, "the application spec", ignored=SKEIN_IGNORED,
                    refused=SKEIN_REFUSED)
        if "services" not in d:
            raise KnitValueError("the application spec has no services: e.g. "
                                 "services: {main: {script: hostname}}")
        if not isinstance(d["services"], dict):
            raise KnitTypeError("services must map service names to services")
        d["services"] = {k: Service.from_dict(v, f"services.{k}")
                         for k, v in d["services"].items()}
        if d.get("acls") is not None:
            d["acls"] = ACLs.from_dict(d["acls"])
        if d.get("master") is not None:
            d["master"] = Master.from_dict(d["master"])
        return cls(**d)

    def to_json(self, **kwargs):
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))

    def to_yaml(self):
        """YAML text (skein's spec layout)."""
        import yaml
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_yaml(cls, text):
        """From YAML text, or from a ``.yaml``/``.yml`` file whose relative
        file paths are taken relative to the file's directory (as skein does).

        Examples
        --------
        >>> spec = ApplicationSpec.from_yaml('''
        ... name: demo
        ... services:
        ...   hello:
        ...     instances: 2
        ...     resources: {memory: 128 MiB, vcores: 1}
        ...     script: echo hello from $KNIT_SERVICE $KNIT_INSTANCE
        ... ''')
        >>> spec.services['hello'].instances
        2
        """
        import yaml
        base = None
        if "\n" not in text and text.endswith((".yaml", ".yml")):
            if not os.path.isfile(text):
                raise KnitValueError(f"{text!r}: no such file; give the path of an "
                                     f"application spec, or its YAML text")
            base = os.path.dirname(os.path.abspath(text))
            with open(text, encoding="utf-8") as f:
                text = f.read()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise KnitValueError(f"the application spec is not valid YAML: {e}") from None
        if base:
            for svc in (data or {}).get("services", {}).values() if isinstance(data, dict) else ():
                files = svc.get("files") if isinstance(svc, dict) else None
                for k, v in (files or {}).items():
                    src = v.get("source") if isinstance(v, dict) else v
                    if isinstance(src, str) and "://" not in src and not os.path.isabs(src):
                        src = os.path.join(base, src)
                        files[k] = {**v, "source": src} if isinstance(v, dict) else src
        return cls.from_dict(data)


def _no_cycle(services):
    state = {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise KnitValueError(f"services depend on each other in a circle: "
                                 f"{' -> '.join(path + [name])}; remove one of the depends")
        state[name] = "visiting"
        for d in services[name].depends:
            visit(d, path + [name])
        state[name] = "done"

    for n in services:
        visit(n, [])


#: skein application fields knit accepts but ignores (a warning says so).
SKEIN_IGNORED = {"security": "the control channel has its own per-application TLS"}

#: skein application fields knit refuses when set, and why (none now: skein's
#: ``user`` is impersonation, as in knit).
SKEIN_REFUSED = {}
