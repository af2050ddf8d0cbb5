"""The user's defaults: knit's config file, and the ``knit`` section of dask's configuration.

Not :mod:`knit.conf`, which reads *Hadoop's* XML files (where the cluster is
and what it allows).  This module holds what a user would otherwise type at
every call: the queue, the size of a container, the environment, the user.

* **knit's file** (YAML) gives defaults to :class:`~knit.Knit`,
  :meth:`~knit.Knit.start` and the ``knit`` command.  It is
  ``$KNIT_CONFIG`` when that is set (a file, which must exist), else
  ``$XDG_CONFIG_HOME/knit/config.yaml``, else ``~/.config/knit/config.yaml``
  (the XDG layout dask uses for ``~/.config/dask``).
* **dask's configuration** (``~/.config/dask/*.yaml``, ``DASK_KNIT__*``
  variables, ``dask.config.set``) gives defaults to the Dask cluster:
  :func:`dask_cluster_defaults`.  knit's own defaults for it ship in
  ``knit/knit.yaml`` (:func:`register_dask_defaults`).

Precedence, first found wins: an argument; an environment variable where one
exists (``$HADOOP_USER_NAME`` for ``user``); for the Dask cluster, dask's
configuration; knit's file; knit's built-in default.  A value of ``None``
(YAML ``null``) counts as not given.  Unknown keys and bad values are refused
with :class:`~knit.exceptions.KnitValueError` naming the file, the key and
the fix (the nearest key, for a typo).

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "config.yaml")
>>> _ = open(path, "w").write("queue: batch\\nmemory: 1 GiB\\n")
>>> cfg = load_config(path)
>>> cfg.resolve(queue=None, memory=None, virtual_cores=None)
{'queue': 'batch', 'memory': 1024, 'virtual_cores': 1}
>>> cfg.source("memory") == path, cfg.source("virtual_cores")
(True, 'default')
"""
import dataclasses
import difflib
import os
from pathlib import Path

import yaml

from .exceptions import KnitTypeError, KnitValueError
from .spec import parse_memory

#: Names a config file by path (it must then exist).
CONFIG_ENV = "KNIT_CONFIG"
#: knit's defaults for dask's ``knit`` configuration section.
DASK_DEFAULTS_FILE = Path(__file__).with_name("knit.yaml")
DEPLOY_MODES = ("local", "remote")
DEFAULT = "default"          # the source of a built-in value


# -- value checks: each returns the value to use or raises ValueError(why) ----

def _count(minimum):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number of at least {minimum}")
        if value < minimum:
            raise ValueError(f"expected at least {minimum}")
        return value
    return check


def _seconds(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError("expected a number of seconds, 0 or more")
    return float(value)


def _text(value):
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    return value.strip()


def _keytab(value):
    # A path, ~ expanded; the file is read by the JVM only, never by knit.
    return os.path.expanduser(_text(value))


def _memory_mib(value):
    # Container sizes as knit.start() takes them: MiB, or text with a unit.
    try:
        mib = parse_memory(value)
    except KnitValueError:
        raise ValueError("expected MiB (a number) or text like '2 GiB'") from None
    if mib < 1:
        raise ValueError("expected at least 1 MiB")
    return mib


def _bytes(value):
    # Dask's sizes, as dask.utils.parse_bytes reads them ('2 GiB' or bytes).
    from dask.utils import parse_bytes
    try:
        if isinstance(value, bool) or parse_bytes(value) < 1:
            raise ValueError
    except (ValueError, TypeError):
        raise ValueError("expected a size like '2 GiB' (or a number of bytes)") from None
    return value


def _tags(value):
    # A list, or "a,b" (what a DASK_KNIT__TAGS=a,b variable gives).
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) and v and "," not in v for v in value):
        raise ValueError("expected a list of tag names")
    return list(value)


def _deploy_mode(value):
    if value not in DEPLOY_MODES:
        raise ValueError(f"expected one of {', '.join(DEPLOY_MODES)}")
    return value


def _host(value):
    from .conf import _to_host
    return _to_host(_text(value))


def _uri(value):
    if "://" not in _text(value):
        raise ValueError("expected a filesystem URI like hdfs://namenode:8020")
    return value.strip()


@dataclasses.dataclass(frozen=True)
class Key:
    """One setting of knit's file.

    ``default`` is the built-in value (``None``: decided elsewhere, as
    ``builtin`` says); ``example`` goes into error messages; ``env`` is an
    environment variable that beats the file; ``hadoop`` the Hadoop
    properties the file's value beats (the site files are the cluster's
    defaults, the file is the user's).
    """

    check: object
    default: object
    example: object
    help: str
    builtin: str = None
    env: str = None
    hadoop: tuple = ()


#: ``Knit.start()`` and ``knit start`` defaults (the parameter names).
START_KEYS = {
    "queue": Key(_text, "default", "batch", "YARN queue"),
    "memory": Key(_memory_mib, 128, 512, "MiB per container, or text like '2 GiB'"),
    "virtual_cores": Key(_count(1), 1, 2, "virtual cores per container"),
    "gpus": Key(_count(0), 0, 1, "GPUs (yarn.io/gpu) per container"),
    "env": Key(_text, None, "myenv", "packed environment: a name in $KNIT_HOME/envs, "
               "a .zip/.tar.gz path or an hdfs:// URI", builtin="none"),
    "app_name": Key(_text, "knit", "etl", "YARN application name"),
    "tags": Key(_tags, [], ["team-a"], "YARN application tags"),
}
#: ``Knit()`` settings (the :class:`~knit.conf.HadoopSettings` names).
KNIT_KEYS = {
    "user": Key(_text, None, "alice", "the user knit acts as (no Kerberos)",
                builtin="the login user", env="HADOOP_USER_NAME"),
    "rm": Key(_host, None, "rm.example.com", "ResourceManager host",
              builtin="from the Hadoop configuration, else localhost",
              hadoop=("yarn.resourcemanager.hostname", "yarn.resourcemanager.webapp.address",
                      "yarn.resourcemanager.webapp.https.address")),
    "rm_port": Key(_count(1), None, 8088, "ResourceManager web port",
                   builtin="from the Hadoop configuration, else 8088",
                   hadoop=("yarn.resourcemanager.webapp.address",)),
    "fs_default": Key(_uri, None, "hdfs://namenode:8020", "the default filesystem",
                      builtin="fs.defaultFS of the Hadoop configuration",
                      hadoop=("fs.defaultFS", "fs.default.name")),
    "replication_factor": Key(_count(1), None, 2, "HDFS replication of uploads",
                              builtin="dfs.replication, else 3",
                              hadoop=("dfs.replication",)),
    "rm_retry_timeout": Key(_seconds, 60.0, 120, "seconds a call retries while no "
                            "ResourceManager answers (a restart, a failover); 5 at most "
                            "until one has answered in the process"),
}
#: How :class:`~knit.Knit` logs in on a Kerberos cluster (its ``principal`` /
#: ``keytab`` arguments, the CLI's ``--principal`` / ``--keytab``).
LOGIN_KEYS = {
    "principal": Key(_text, None, "alice@EXAMPLE.COM",
                     "Kerberos principal to log in as from keytab",
                     builtin="the ticket cache's (kinit)"),
    "keytab": Key(_keytab, None, "~/alice.keytab", "the principal's keytab file",
                  builtin="none: the ticket cache"),
}
#: The ``ipyparallel:`` section: :func:`ipyparallel_cluster_defaults`.
IPP_KEYS = {
    "n_engines": Key(_count(0), 1, 4, "engines to start with"),
    "env": Key(_text, None, "ipp", "packed environment of the engines",
               builtin="the top-level env"),
    "memory": Key(_memory_mib, 512, 1024, "MiB per engine container"),
    "vcores": Key(_count(1), 1, 2, "virtual cores per engine container"),
    "gpus": Key(_count(0), 0, 1, "GPUs per engine container"),
    "queue": Key(_text, None, "batch", "YARN queue", builtin="the top-level queue"),
    "deploy_mode": Key(_deploy_mode, "local", "remote",
                       "where the controller runs: local (this process) or remote (YARN)"),
}
SECTIONS = {"ipyparallel": IPP_KEYS}
FILE_KEYS = {**START_KEYS, **KNIT_KEYS, **LOGIN_KEYS}

#: dask's ``knit`` section (YAML spells them with dashes; dask takes either):
#: name -> (the DaskYARNCluster keyword, check, the key of knit's file
#: that comes next, or None).
DASK_KEYS = {
    "environment": ("env", _text, "env"),
    "queue": ("queue", _text, "queue"),
    "worker_memory": ("worker_memory", _bytes, None),
    "worker_vcores": ("worker_vcores", _count(1), None),
    "worker_gpus": ("worker_gpus", _count(0), None),
    "scheduler_memory": ("scheduler_memory", _bytes, None),
    "scheduler_vcores": ("scheduler_vcores", _count(1), None),
    "deploy_mode": ("deploy_mode", _deploy_mode, None),
    "tags": ("tags", _tags, "tags"),
    "user": ("user", _text, None),
    "n_workers": ("n_workers", _count(0), None),
    "node_label": ("node_label", _text, None),
    "app_name": ("app_name", _text, None),
}


def _suggest(key, known):
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _yaml_value(value):
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


# -- the file -------------------------------------------------------------------

def config_path(environ=None):
    """Where knit's config file is: ``$KNIT_CONFIG``, else
    ``$XDG_CONFIG_HOME/knit/config.yaml``, else ``~/.config/knit/config.yaml``.

    Parameters
    ----------
    environ : mapping, optional
        Instead of :data:`os.environ`.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> str(config_path({"XDG_CONFIG_HOME": "/cfg"}))
    '/cfg/knit/config.yaml'
    >>> str(config_path({"KNIT_CONFIG": "/etc/knit.yaml", "XDG_CONFIG_HOME": "/cfg"}))
    '/etc/knit.yaml'
    """
    env = os.environ if environ is None else environ
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".config")
    return Path(base) / "knit" / "config.yaml"


def _check_keys(where, data, keys, sections=None):
    """Validated ``{key: value}`` of one mapping of the file (nulls dropped)."""
    sections = sections or {}
    if not isinstance(data, dict):
        raise KnitValueError(f"{where} must be a mapping of keys to values, e.g. "
                             f"`queue: batch`, got {_yaml_value(data)}")
    out = {}
    for key, value in data.items():
        if key in sections:
            out[key] = _check_keys(f"{where}, section {key!r},", value or {}, sections[key])
            continue
        if key not in keys:
            raise KnitValueError(
                f"{where} has an unknown key {key!r}{_suggest(key, [*keys, *sections])}; "
                f"the keys are: {', '.join([*keys, *sections])}.  Rename or remove it.")
        if value is None:
            continue
        try:
            out[key] = keys[key].check(value)
        except ValueError as e:
            example = f"{key}: {_yaml_value(keys[key].example)}"
            raise KnitValueError(f"{where}: bad value for {key!r}: {_yaml_value(value)} "
                                 f"({e}); e.g. `{example}`") from None
    return out


@dataclasses.dataclass(frozen=True)
class KnitConfig:
    """The validated contents of knit's config file (:func:`load_config`).

    Attributes
    ----------
    path : pathlib.Path
        Where the file is (or would be).
    found : bool
        Whether it exists (and was read).
    values : dict
        The file's settings, checked (``memory`` in MiB); sections as dicts.
    """

    path: Path
    found: bool = False
    values: dict = dataclasses.field(default_factory=dict)

    def get(self, name, section=None):
        """The file's value of ``name``, else the built-in default.

        Examples
        --------
        >>> KnitConfig(Path("none.yaml")).get("memory")
        128
        """
        keys, values = self._scope(section)
        value = values[name] if name in values else keys[name].default
        return list(value) if isinstance(value, list) else value

    def source(self, name, section=None):
        """The file's path if it sets ``name``, else ``'default'``."""
        return str(self.path) if name in self._scope(section)[1] else DEFAULT

    def _scope(self, section):
        if section is None:
            return FILE_KEYS, self.values
        return SECTIONS[section], self.values.get(section, {})

    def resolve(self, **given):
        """``given`` with every ``None`` replaced by the file's value or the
        built-in default (what :meth:`knit.Knit.start` does with its arguments).

        Examples
        --------
        >>> KnitConfig(Path("none.yaml")).resolve(queue=None, memory=256)
        {'queue': 'default', 'memory': 256}
        """
        return {k: self.get(k) if v is None else v for k, v in given.items()}

    def knit_kwargs(self, kwargs, pars=None, environ=None):
        """``Knit(**kwargs)``'s settings with the file's beneath them.

        The file gives way to an argument, to ``pars`` (a knit name, or a
        raw Hadoop property the key stands for) and to the key's
        environment variable (``$HADOOP_USER_NAME``).

        Examples
        --------
        >>> cfg = KnitConfig(Path("c.yaml"), True, {"user": "bob", "replication_factor": 1})
        >>> cfg.knit_kwargs({}, environ={"HADOOP_USER_NAME": "ann"})
        {'replication_factor': 1}
        >>> cfg.knit_kwargs({"user": "cy"}, {"dfs.replication": "2"}, environ={})
        {'user': 'cy'}
        """
        env = os.environ if environ is None else environ
        pars = pars or {}
        out = {}
        for name, key in KNIT_KEYS.items():
            if name not in self.values or pars.get(name) is not None:
                continue
            if (key.env and env.get(key.env)) or any(p in pars for p in key.hadoop):
                continue
            out[name] = self.values[name]
        out.update({k: v for k, v in kwargs.items() if v is not None})
        return out


def load_config(path=None, environ=None):
    """Read and check knit's config file.

    Parameters
    ----------
    path : str or path-like, optional
        The file; by default :func:`config_path`.  A missing default file is
        an empty configuration; a file named by ``path`` or
        ``$KNIT_CONFIG`` must exist.
    environ : mapping, optional
        Instead of :data:`os.environ`.

    Returns
    -------
    KnitConfig

    Raises
    ------
    KnitValueError
        The file cannot be read, is not YAML, has an unknown key (the nearest
        known one is suggested) or a bad value.

    Examples
    --------
    >>> load_config(environ={"HOME": "/nonexistent"}).found
    False
    >>> load_config("/nonexistent/knit.yaml")
    Traceback (most recent call last):
    ...
    knit.exceptions.KnitValueError: knit config file /nonexistent/knit.yaml does not exist ...
    """
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIG_ENV):
        named = f"${CONFIG_ENV}={env[CONFIG_ENV]}"
    else:
        named = None if path is None else "load_config(path)"
    path = config_path(env) if path is None else Path(path).expanduser()
    if not path.exists():
        if named:
            usual = config_path({k: v for k, v in env.items() if k != CONFIG_ENV})
            raise KnitValueError(
                f"knit config file {path} does not exist ({named}); create it, or "
                f"name an existing file (without ${CONFIG_ENV}, knit reads {usual} "
                f"if it exists)")
        return KnitConfig(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise KnitValueError(f"Cannot read knit config file {path}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise KnitValueError(f"knit config file {path}{where} is not valid YAML: "
                             f"{getattr(e, 'problem', None) or e}") from None
    values = _check_keys(f"knit config file {path}", data or {}, FILE_KEYS, SECTIONS)
    return KnitConfig(path, True, values)


def effective(config, kwargs=None, hadoop_conf=None, environ=None):
    """Every setting of knit's file with the value in effect and where it came from.

    Parameters
    ----------
    config : KnitConfig
    kwargs : dict, optional
        Arguments given (as to ``Knit``/``start``), which win.
    hadoop_conf : dict, optional
        The Hadoop site files' properties (:func:`knit.conf.read_site_files`).
    environ : mapping, optional

    Returns
    -------
    list of (key, value, source)
        ``source`` is ``'argument'``, ``'$NAME'`` (an environment variable),
        the file's path, ``'Hadoop configuration (property)'`` or
        ``'default'``.  Sections' keys are dotted (``ipyparallel.memory``).

    Examples
    --------
    >>> rows = effective(KnitConfig(Path("c.yaml"), True, {"queue": "batch"}),
    ...                  hadoop_conf={"dfs.replication": "1"}, environ={"USER": "ann"})
    >>> [r for r in rows if r[0] in ("queue", "memory", "user", "replication_factor")]
    [('queue', 'batch', 'c.yaml'), ('memory', 128, 'default'), ('user', 'ann', 'default (the login user)'), ('replication_factor', 1, 'Hadoop configuration (dfs.replication)')]
    """
    from .conf import settings_from

    env = os.environ if environ is None else environ
    kwargs = {k: v for k, v in (kwargs or {}).items() if v is not None}
    hadoop_conf = hadoop_conf or {}
    rows = []
    for name in START_KEYS:
        source = "argument" if name in kwargs else config.source(name)
        rows.append((name, kwargs.get(name, config.get(name)), source))
    knit_args = {k: v for k, v in kwargs.items() if k in KNIT_KEYS}
    settings = settings_from(config.knit_kwargs(knit_args, environ=env), conf=hadoop_conf,
                             environ=env)
    for name, key in KNIT_KEYS.items():
        value = getattr(settings, name)
        prop = next((p for p in key.hadoop if hadoop_conf.get(p)), None)
        if name in kwargs:
            source = "argument"
        elif key.env and env.get(key.env):
            source = f"${key.env}"
        elif name in config.values:
            source = str(config.path)
        elif prop:
            source = f"Hadoop configuration ({prop})"
        else:
            source = f"{DEFAULT} ({key.builtin})" if key.builtin else DEFAULT
        rows.append((name, value, source))
    for section, keys in SECTIONS.items():
        given = ipyparallel_cluster_defaults(config)
        for name in keys:
            rows.append((f"{section}.{name}", given[name], _ipp_source(config, name)))
    return rows


# -- IPython Parallel --------------------------------------------------------------

def _ipp_source(config, name):
    if name in config.values.get("ipyparallel", {}):
        return f"{config.path} (ipyparallel.{name})"
    if IPP_KEYS[name].default is None and name in config.values:
        return f"{config.path} ({name})"
    return DEFAULT


def ipyparallel_cluster_defaults(config=None, **given):
    """The keyword arguments of :class:`~knit.ipyparallel.IPyParallelCluster`,
    each from: ``given`` (``None`` counts as not given); the ``ipyparallel:``
    section of knit's file; for ``env`` and ``queue`` the file's top-level
    ``env`` and ``queue``; the built-in default.

    Parameters
    ----------
    config : KnitConfig, optional
        knit's file, :func:`load_config` by default.
    **given
        Any of ``n_engines``, ``env``, ``memory`` (MiB), ``vcores``,
        ``gpus``, ``queue``, ``deploy_mode``.

    Returns
    -------
    dict
        All of those names.

    Examples
    --------
    >>> cfg = KnitConfig(Path("c.yaml"), True, {"queue": "batch",
    ...                                        "ipyparallel": {"memory": 1024}})
    >>> ipyparallel_cluster_defaults(cfg, n_engines=8)
    {'n_engines': 8, 'env': None, 'memory': 1024, 'vcores': 1, 'gpus': 0, 'queue': 'batch', 'deploy_mode': 'local'}
    """
    _refuse_unknown("ipyparallel_cluster_defaults", given, IPP_KEYS)
    config = load_config() if config is None else config
    section = config.values.get("ipyparallel", {})
    out = {}
    for name, key in IPP_KEYS.items():
        for value in (given.get(name), section.get(name),
                      config.values.get(name) if key.default is None else None):
            if value is not None:
                out[name] = value
                break
        else:
            out[name] = key.default if key.default is not None else FILE_KEYS[name].default
    return out


def _refuse_unknown(function, given, names):
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise KnitTypeError(f"{function}() takes {', '.join(names)}; got "
                            f"{', '.join(unknown)}{_suggest(unknown[0], names)}")


# -- Dask ---------------------------------------------------------------------------

def register_dask_defaults():
    """Add knit's defaults (``knit/knit.yaml``) to dask's configuration.

    As dask's own plugins do (dask-yarn, dask-kubernetes): the user's files,
    ``DASK_KNIT__*`` variables and ``dask.config.set`` keep priority.  Safe
    to call again: it puts back what leaving a ``dask.config.set`` block
    took away (dask removes the keys that block added, defaults included).

    Examples
    --------
    >>> import dask.config
    >>> register_dask_defaults()
    >>> dask.config.get("knit.deploy-mode") in ("local", "remote")
    True
    """
    import dask.config

    defaults = yaml.safe_load(DASK_DEFAULTS_FILE.read_text())
    if defaults not in dask.config.defaults:
        dask.config.update_defaults(defaults)
    else:
        dask.config.update(dask.config.config, defaults, priority="old")


def dask_config():
    """dask's ``knit`` section, checked: ``{name: value}`` with underscores,
    ``None`` values left out.

    Raises
    ------
    KnitValueError
        An unknown key (with the nearest known one) or a bad value, naming
        the key as dask spells it (``knit.worker-memory``).

    Examples
    --------
    >>> import dask.config
    >>> with dask.config.set({"knit.worker-memory": "4 GiB"}):
    ...     dask_config()["worker_memory"]
    '4 GiB'
    """
    import dask.config

    register_dask_defaults()
    section = dask.config.get("knit", default={}) or {}
    where = ("(~/.config/dask/*.yaml, $DASK_CONFIG, DASK_KNIT__* variables or "
             "dask.config.set)")
    if not isinstance(section, dict):
        raise KnitValueError(f"dask config 'knit' must be a mapping {where}, got "
                             f"{section!r}")
    out = {}
    for raw, value in section.items():
        name = str(raw).replace("-", "_")
        dashed = f"knit.{name.replace('_', '-')}"
        if name not in DASK_KEYS:
            known = [k.replace("_", "-") for k in DASK_KEYS]
            raise KnitValueError(
                f"dask config has an unknown key knit.{raw}"
                f"{_suggest(str(raw).replace('_', '-'), known)} {where}; the keys are: "
                f"{', '.join(known)}.  Rename or remove it.")
        if value is None:
            continue
        try:
            out[name] = DASK_KEYS[name][1](value)
        except ValueError as e:
            raise KnitValueError(f"dask config {dashed}={value!r}: {e} {where}; e.g. "
                                 f"dask.config.set({{'{dashed}': ...}})") from None
    return out


def dask_cluster_defaults(config=None, **given):
    """The keyword arguments of :class:`~knit.dask_yarn.DaskYARNCluster`,
    each from: ``given`` (``None`` counts as not given); dask's ``knit``
    configuration section; knit's file (``env``, ``queue``, ``tags``);
    the built-in default (``knit/knit.yaml``, else ``queue='default'``,
    no environment, no tags).

    Parameters
    ----------
    config : KnitConfig, optional
        knit's file, :func:`load_config` by default.
    **given
        Any of ``env``, ``queue``, ``worker_memory``, ``worker_vcores``,
        ``worker_gpus``, ``scheduler_memory``, ``scheduler_vcores``,
        ``deploy_mode``, ``tags``, ``user``, ``n_workers``, ``node_label``,
        ``app_name``: the cluster's own keywords (dask's key
        ``environment`` is the keyword ``env``).

    Returns
    -------
    dict
        All of those names.  ``user``, ``node_label`` and ``env`` may be
        None: ``user=None`` lets :class:`~knit.Knit` decide
        (``$HADOOP_USER_NAME``, knit's file, the login user).

    Examples
    --------
    >>> import dask.config
    >>> cfg = KnitConfig(Path("c.yaml"), True, {"queue": "batch", "env": "dask"})
    >>> with dask.config.set({"knit.worker-memory": "4 GiB", "knit.queue": "prod"}):
    ...     d = dask_cluster_defaults(cfg, n_workers=3)
    >>> d["n_workers"], d["worker_memory"], d["queue"], d["env"]
    (3, '4 GiB', 'prod', 'dask')
    """
    names = [kw for kw, _, _ in DASK_KEYS.values()]
    _refuse_unknown("dask_cluster_defaults", given, names)
    config = load_config() if config is None else config
    dask = dask_config()
    out = {}
    for name, (kw, _, file_key) in DASK_KEYS.items():
        value = given.get(kw)
        if value is None:
            value = dask.get(name)
        if value is None and file_key is not None:
            value = config.get(file_key)
        out[kw] = value
    return out


def dask_sources(config=None):
    """``(dask key, value, source)`` for each key of dask's ``knit`` section:
    ``'dask config'`` where it differs from knit's shipped default."""
    shipped = yaml.safe_load(DASK_DEFAULTS_FILE.read_text())["knit"]
    current = dask_config()
    merged = dask_cluster_defaults(config)
    config = load_config() if config is None else config
    rows = []
    for name, (kw, _, file_key) in DASK_KEYS.items():
        dashed = name.replace("_", "-")
        if name in current and current[name] != shipped.get(dashed):
            source = "dask config"
        elif name not in current and file_key and file_key in config.values:
            source = f"{config.path} ({file_key})"
        else:
            source = "default (knit/knit.yaml)"
        rows.append((f"knit.{dashed}", merged[kw], source))
    return rows
