"""``Knit``: launch a command on N YARN containers and follow it.

Examples
--------
>>> from knit import Knit
>>> with Knit() as k:                                    # doctest: +SKIP
...     app_id = k.start('hostname', num_containers=3)
...     k.wait_for_completion(60)
...     print(k.logs())
"""
import dataclasses
import json
import logging
import os
import re
import secrets
import shlex
import time
from pathlib import Path

from . import appsecrets
from .am_channel import AMChannel
from .checks import before_submit, seconds, validate_spec, validate_start
from .conf import find_conf_dir, read_site_files, settings_from
from .settings import load_config
from .exceptions import (KnitException, KnitTypeError, KnitValueError, YARNConnectionError,
                         YARNException, YARNTimeoutError)
from .env import ENTER_ENV, UNPACK_HOOK, UploadProgress, resolve_env
from .gateway import JAR, JVMSession
from .overrides import jvm_overrides
from .progress import WaitLine
from .spec import ApplicationSpec, File, Master, Resources, Service
from .web_security import rest_options
from .logs import read_logs
from .yarn_api import FINAL_STATES, YARNAPI

logger = logging.getLogger(__name__)

KNIT_HOME = str(JAR.parent)
# What Hadoop takes as a user name in a proxy user (no path or shell characters).
_USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,255}")
#: The service of an application made by :meth:`Knit.start`.
DEFAULT_SERVICE = "main"
# wait_for_completion: first pause, growth per poll, longest pause (seconds).
WAIT_POLL, WAIT_BACKOFF, WAIT_POLL_MAX = 1.0, 1.2, 5.0


class Knit:
    """Connection to a YARN cluster that launches and follows one application.

    Parameters
    ----------
    autodetect : bool
        Read the Hadoop configuration (``HADOOP_CONF_DIR``, ``YARN_CONF_DIR``,
        ``HADOOP_HOME/etc/hadoop``).  Keyword arguments and ``pars`` win over it.
    upload_always : bool
        Upload the environment and files even when the HDFS cache has them.
    hdfs_home : str, optional
        HDFS directory under which knit keeps ``.knit/staging`` and
        ``.knit/cache``; ``/user/<user>`` by default.
    knit_home : str
        Directory of ``knit.jar``.
    hdfs : object, optional
        Accepted for compatibility with knit 0.2; uploads go through the JVM.
    pars : dict, optional
        Settings by knit name or raw Hadoop property, below kwargs in
        precedence and above the configuration files.
    classpath : str, optional
        The Hadoop client classpath for the gateway JVM (found by default).
    principal, keytab : str, optional
        On a Kerberos cluster, log in as ``principal`` from the ``keytab``
        file instead of using the ticket cache (``kinit``).  Without
        either, a ticket is needed; the user is always the principal's
        short name.  The keytab is also handed to each application's
        ApplicationMaster (in its YARN credentials, never on a command line
        or in a log), which fetches new HDFS delegation tokens at 75 % of
        their lifetime, so applications outlive the tokens' maximum
        lifetime even where the ResourceManager may not fetch them itself.
    proxy_user : str, optional
        Act for this user through Hadoop impersonation: a service (a
        dask-gateway or JupyterHub server) that submits for others.  The
        applications, their HDFS staging and cache (``/user/<proxy_user>``)
        and their containers are ``proxy_user``'s; the Knit's own login
        (``user``, or the Kerberos ticket or ``principal``/``keytab``, which
        need not be ``proxy_user``'s) authenticates.  The cluster must allow
        it (``hadoop.proxyuser.<service user>.hosts`` and ``.users`` or
        ``.groups`` in core-site.xml); it is asked here, and a refusal raises
        :class:`~knit.exceptions.ProxyUserError` naming those properties.
        An application spec's ``user`` does the same for one submit.
    filesystems : list of str, optional
        Other filesystems the applications use (``hdfs://other-nn:8020``):
        on a Kerberos cluster their delegation tokens reach the AM and
        every container too.  The default filesystem and those of
        ``hdfs://`` files need no mention.
    config : knit.settings.KnitConfig, optional
        knit's config file as already read (:func:`knit.settings.load_config`),
        instead of reading ``~/.config/knit/config.yaml`` (or
        ``$KNIT_CONFIG``); ``KnitConfig(None)`` for none at all.
    **kwargs
        ``rm``, ``rm_port``, ``rm_port_https``, ``user``,
        ``replication_factor``, ``lang``, ``password``, ``gateway_path`` and
        the other fields of :class:`knit.conf.HadoopSettings`.

    Notes
    -----
    Settings not given here, in ``pars`` or (for ``user``) in
    ``$HADOOP_USER_NAME`` come from knit's config file when it has them
    (``user``, ``rm``, ``rm_port``, ``fs_default``, ``replication_factor``;
    see :mod:`knit.settings`), before the Hadoop site files; the file's
    ``queue``, ``memory``, ``env``, ... are :meth:`start`'s defaults.
    :attr:`defaults` holds the file as read.

    Everything given here (``rm``, ports, ``user``, ``replication_factor``,
    Hadoop properties in ``pars``) steers the REST calls and the gateway
    JVM alike, so both always reach the same ResourceManager as the same
    user.

    Examples
    --------
    >>> k = Knit(autodetect=True)                        # doctest: +SKIP
    >>> app_id = k.start('echo $CONTAINER_ID', num_containers=2, memory=128)  # doctest: +SKIP
    >>> k.wait_for_completion(timeout=60)                # doctest: +SKIP
    True

    On a Kerberos cluster, from a keytab:

    >>> k = Knit(principal='alice@EXAMPLE.COM', keytab='/home/alice/alice.keytab')  # doctest: +SKIP
    >>> k.conf.user                                      # doctest: +SKIP
    'alice'

    A service acting for its user alice:

    >>> k = Knit(principal='svc@EXAMPLE.COM', keytab='svc.keytab', proxy_user='alice')  # doctest: +SKIP
    >>> k.conf.user, k.hdfs_home                         # doctest: +SKIP
    ('alice', '/user/alice')
    """

    #: knit 0.2's names for the Java part: the jar in :attr:`KNIT_HOME`.
    JAR_FILE = JAR.name
    JAVA_APP = "io.knit.Gateway"

    def __init__(self, autodetect=True, upload_always=False, hdfs_home=None,
                 knit_home=KNIT_HOME, hdfs=None, pars=None, classpath=None,
                 principal=None, keytab=None, filesystems=None, config=None,
                 proxy_user=None, **kwargs):
        conf_dir, conf = None, {}
        if autodetect:
            conf_dir = find_conf_dir()
            conf = read_site_files(conf_dir) if conf_dir else {}
        #: The user's defaults: knit's config file (:mod:`knit.settings`).
        self.defaults = load_config() if config is None else config
        given = kwargs
        # The file's settings count as arguments below the given ones (so
        # they reach the JVM too), except where pars or $HADOOP_USER_NAME win.
        kwargs = self.defaults.knit_kwargs(kwargs, pars)
        settings = settings_from(kwargs, pars, conf)
        if principal is None and keytab is None:
            # The config file's login, unless the call gives one.
            principal, keytab = self.defaults.get("principal"), self.defaults.get("keytab")
        if bool(principal) != bool(keytab):
            raise KnitValueError("principal= and keytab= go together: e.g. Knit(principal="
                                 "'alice@EXAMPLE.COM', keytab='/home/alice/alice.keytab'), "
                                 "`knit start --principal alice@EXAMPLE.COM --keytab "
                                 "~/alice.keytab ...`, or both principal: and keytab: in "
                                 "knit's config file")
        if keytab and not os.path.isfile(keytab):
            raise KnitValueError(f"keytab {keytab!r} is not a file: give the path of "
                                 f"{principal}'s keytab (principal=/keytab=, --keytab, or "
                                 f"keytab: in knit's config file)")
        if proxy_user is not None and not (isinstance(proxy_user, str)
                                           and _USER_NAME.fullmatch(proxy_user)):
            raise KnitValueError(f"proxy_user must be a user name, got {proxy_user!r}: "
                                 f"e.g. Knit(proxy_user='alice')")
        self._jvm = JVMSession(jvm_overrides(kwargs, pars, settings, conf),
                               user=None, principal=principal, keytab=keytab,
                               classpath=classpath, proxy_user=proxy_user)
        if settings.security_enabled or keytab:
            # Kerberos decides who we are: the JVM logs in (or finds no
            # ticket and says so) before anything else happens, and the
            # REST side and the HDFS home follow its short name.
            explicit_user = (given.get("user") or (pars or {}).get("user"))
            self._jvm.user = explicit_user
            settings = dataclasses.replace(settings, user=self._jvm.identity["user"])
        else:
            self._jvm.user = settings.user
        #: The user this Knit acts for (Hadoop impersonation), or None.
        self.proxy_user = proxy_user
        if proxy_user:
            # The JVM asks the cluster now (ProxyUserError if refused); from
            # here on the applications, HDFS home and REST queries are hers.
            settings = dataclasses.replace(settings, user=self._jvm.identity["user"])
        if isinstance(filesystems, str) or not all(
                isinstance(f, str) and "://" in f for f in filesystems or ()):
            raise KnitValueError(f"filesystems must be a list of URIs, got {filesystems!r}: "
                                 f"e.g. Knit(filesystems=['hdfs://other-nn:8020'])")
        self.filesystems = list(filesystems or ())
        self.conf = settings
        self.yarn_api = YARNAPI.from_settings(
            settings, **rest_options(settings, conf_dir, principal, keytab))
        self.upload_always = upload_always
        self.hdfs_home = hdfs_home or f"/user/{self.conf.user}"
        self._default_home = not hdfs_home
        self.knit_home = knit_home
        self.hdfs = hdfs
        self.classpath = classpath
        self.app_id = None
        self._secret = None
        #: Inside a container (:meth:`current`): the channel of its own credential.
        self._container_channel = None
        self._staging_root = f"{self.hdfs_home}/.knit/staging"
        self._cache_root = f"{self.hdfs_home}/.knit/cache"
        self.last_upload = {}
        #: The containers' ``LANG`` (knit 0.2's attribute; ``lang=`` setting).
        self.lang = self.conf.lang

    #: Seconds after which a partial upload in the cache (``.*.tmp``, left by
    #: a gateway JVM that died mid-upload) is removed by the sweep that
    #: follows each submit.  Uploads in progress are younger than this.
    partial_upload_age = 3600

    def __repr__(self):
        return f"Knit<rm={self.yarn_api.rm_url}, app_id={self.app_id}>"

    @property
    def KNIT_HOME(self):
        """knit 0.2's name for :attr:`knit_home`, the directory of the jar."""
        return self.knit_home

    @property
    def JAR_FILE_PATH(self):
        """The jar that is shipped to the ApplicationMaster (knit 0.2's name)."""
        return os.path.join(self.knit_home, self.JAR_FILE)

    # -- launching ------------------------------------------------------
    def start(self, cmd, num_containers=1, virtual_cores=None, memory=None, files=None,
              envvars=None, app_name=None, queue=None, checks=True, env=None,
              max_restarts=0, max_attempts=1, am_memory=512, am_vcores=1,
              nodes=None, racks=None, node_label=None, priority=0, keep_alive=False,
              wait=True, wait_timeout=120, detach=True, gpus=None, tags=None):
        """Run ``cmd`` on ``num_containers`` YARN containers; return the app id.

        As in knit 0.2, it returns once the ApplicationMaster runs and
        answers, so :meth:`add_containers`, :meth:`get_containers` and
        :meth:`logs` work at once; ``wait=False`` returns right after submit.

        Parameters
        ----------
        cmd : str
            Shell command for every container.  ``$CONTAINER_ID`` is set,
            and with ``env`` also ``$PYTHON_BIN`` and ``$CONDA_PREFIX``.
        num_containers, virtual_cores, memory : int
            Containers, and vcores and MB each.  With ``num_containers=0``
            the application waits for :meth:`add_containers`.
            ``virtual_cores`` and ``memory`` (like ``app_name``, ``queue``,
            ``env``, ``gpus`` and ``tags``) default to knit's config file,
            else 1 and 128 (see :mod:`knit.settings`).
        files : list of str, optional
            Local paths (uploaded) or ``hdfs://`` URIs (used in place),
            linked into each container's working directory by base name;
            ``.zip``, ``.tar.gz``, ``.tgz`` and ``.tar`` archives are unpacked
            into a directory of that name (``data.zip/...``).
        envvars : dict, optional
            Environment variables for the command (``LANG`` defaults to the
            ``lang`` setting).  Values arrive exactly as given: nothing in
            them is expanded (``'pa$$word'`` stays ``pa$$word``).  Only
            knit's own ``$CONDA_PREFIX`` and ``$PYTHON_BIN`` are relative to
            the container's working directory.
        app_name, queue : str
            YARN application name and queue (by default ``knit`` and
            ``default``, or the config file's).
        checks : bool
            Check resources, queue and cluster capacity before submitting.
        env : str, optional
            A packed environment: a local zip/tar.gz, an ``hdfs://`` URI, or
            the name of one in ``$KNIT_HOME/envs`` (from :meth:`create_env`
            or ``knit env create``).  It is cached in HDFS by content hash.
            By default the config file's ``env``, if any; ``env=False``
            runs without an environment even then.
        max_restarts : int
            Times a failed container is replaced (-1: always).
        max_attempts : int
            ApplicationMaster attempts; later attempts keep running containers.
        am_memory, am_vcores : int
            Resources of the ApplicationMaster (its heap follows its memory).
        nodes, racks : list of str, optional
            Preferred hosts / racks.
        node_label : str, optional
            Node label expression for the containers.
        priority : int
            YARN application priority.
        keep_alive : bool
            Keep the application running when every container has ended,
            waiting for :meth:`add_containers`, until it is killed (a
            service such as a Dask cluster); by default it finishes once
            all containers exited by themselves.
        wait : bool
            Return only once the ApplicationMaster is running and reachable
            (knit 0.2's behaviour); False returns right after submit.
        wait_timeout : float
            Seconds to wait for the ApplicationMaster.  If it is not up by
            then the application is killed and :class:`YARNTimeoutError`
            names its state and diagnostics; an application that ends
            before its AM came up raises :class:`YARNException` at once.
        detach : bool
            Once ``start()`` has returned, the application outlives this
            Python process (the default, as for a batch job).  With
            ``detach=False`` it is killed when the process ends in any way,
            even by SIGKILL: the gateway JVM kills it when its pipe to
            Python closes.  Either way, an interrupt (Ctrl-C, SIGTERM, the
            process dying) *during* ``start()`` leaves nothing behind: before
            the submit nothing is submitted (an upload in progress is
            aborted), after it the application is killed.
        gpus : int
            GPUs per container (YARN's ``yarn.io/gpu``); the cluster must
            declare that resource type, which is checked before submit.
            For other resource types use :meth:`submit` with
            :class:`~knit.spec.Resources`.
        tags : list of str, optional
            YARN application tags (by default the config file's, else none).

        Raises
        ------
        KnitException
            If this ``Knit`` still runs an application: one ``Knit`` follows
            one application, so use another ``Knit()`` (or ``kill()`` first).

        Returns
        -------
        str
            The application id.

        Notes
        -----
        The application is an :class:`~knit.spec.ApplicationSpec` of one
        service, ``main`` (its containers see ``$KNIT_SERVICE=main``); see
        :meth:`submit` for several.

        Examples
        --------
        >>> app_id = k.start('python -c "print(42)"', num_containers=3)  # doctest: +SKIP
        """
        files = [] if files is None else files
        envvars = {} if envvars is None else envvars
        given = dict(virtual_cores=virtual_cores, memory=memory, app_name=app_name,
                     queue=queue, env=env, gpus=gpus, tags=tags)
        from_file = {k for k, v in given.items() if v is None and k in self.defaults.values}
        d = self.defaults.resolve(**given)
        virtual_cores, memory, app_name, queue, gpus, tags = (
            d["virtual_cores"], d["memory"], d["app_name"], d["queue"], d["gpus"], d["tags"])
        env = d["env"] or None
        self._refuse_second_app()
        try:
            if isinstance(env, (str, os.PathLike)):
                env = resolve_env(os.fspath(env))
            validate_start(self, cmd=cmd, num_containers=num_containers,
                           virtual_cores=virtual_cores, memory=memory, files=files,
                           envvars=envvars, app_name=app_name, queue=queue, env=env,
                           max_restarts=max_restarts, max_attempts=max_attempts,
                           am_memory=am_memory, am_vcores=am_vcores, checks=checks,
                           nodes=nodes, racks=racks, node_label=node_label, gpus=gpus)
        except (KnitValueError, KnitTypeError) as e:
            # A value the user did not type here: say where it came from.
            named = e.param if e.param in from_file else (
                "env" if "env" in from_file and "environment" in str(e).lower() else None)
            if named is None or type(e) not in (KnitValueError, KnitTypeError):
                raise
            raise type(e)(f"{e.template} ({named!r} came from knit's config file "
                          f"{self.defaults.path})", fix=e.fix, function=e.function) from e
        spec = ApplicationSpec(
            {DEFAULT_SERVICE: Service(
                cmd, instances=num_containers, max_restarts=max_restarts,
                resources=Resources(memory=memory, vcores=virtual_cores, gpus=gpus),
                files={os.path.basename(str(f).rstrip("/")): File(str(f)) for f in files},
                env=envvars, environment=None if env is None else str(env),
                node_label=node_label, nodes=nodes or [], racks=racks or [])},
            name=app_name, queue=queue, priority=priority, max_attempts=max_attempts,
            tags=tags, keep_alive=keep_alive,
            master=Master(Resources(memory=am_memory, vcores=am_vcores)))
        return self._submit(spec, wait=wait, wait_timeout=wait_timeout, detach=detach)

    def submit(self, spec, checks=True, wait=True, wait_timeout=120, detach=True):
        """Submit an application of one or more services; return its id.

        The same guarantees as :meth:`start`: the ApplicationMaster runs and
        answers when it returns (unless ``wait=False``), an interrupt during
        the call leaves nothing behind, and ``detach`` says whether the
        application outlives this process.

        Parameters
        ----------
        spec : ApplicationSpec, dict or str
            The spec, its :meth:`~knit.spec.ApplicationSpec.to_dict` form, or
            YAML (text or a ``.yaml`` file; skein's spec runs as is).
        checks : bool
            Check every service against the scheduler's limits, the queue
            and the cluster's capacity before submitting.
        wait, wait_timeout, detach
            As for :meth:`start`.

        Examples
        --------
        >>> from knit import ApplicationSpec, Service
        >>> spec = ApplicationSpec({'server': Service('python -m http.server 8000'),
        ...                         'client': Service('curl $SERVER', depends=['server'])})
        >>> app_id = Knit().submit(spec)                   # doctest: +SKIP
        """
        if isinstance(spec, dict):
            spec = ApplicationSpec.from_dict(spec)
        elif isinstance(spec, (str, os.PathLike)):
            spec = ApplicationSpec.from_yaml(os.fspath(spec))
        if not isinstance(spec, ApplicationSpec):
            raise KnitTypeError(f"submit() takes an ApplicationSpec (or its dict or YAML), "
                                f"got {type(spec).__name__}: e.g. Knit().submit("
                                f"ApplicationSpec({{'main': Service('hostname')}}))")
        self._refuse_second_app()
        if spec.user:
            self._act_for(spec.user)
        services = {}
        for name, svc in spec.services.items():
            if isinstance(svc.environment, str) and svc.environment:
                svc = dataclasses.replace(svc, environment=resolve_env(svc.environment))
            services[name] = svc
        spec = dataclasses.replace(spec, services=services)
        validate_spec(self, spec, checks=checks)
        return self._submit(spec, wait=wait, wait_timeout=wait_timeout, detach=detach)

    def _act_for(self, user):
        """Make this Knit act for ``user`` (a spec's ``user``), as
        ``Knit(proxy_user=user)`` would have: a new JVM session that
        impersonates her, her HDFS home, her REST queries."""
        if user in (self.proxy_user, None) or (self.proxy_user is None and user == self.conf.user):
            return
        if self.proxy_user is not None:
            raise KnitValueError(
                f"the spec's user is {user!r} but this Knit acts for {self.proxy_user!r}: "
                f"drop the spec's user, or submit with Knit(proxy_user={user!r})")
        jvm = self._jvm
        self._jvm = JVMSession(jvm.overrides, user=jvm.user, principal=jvm.principal,
                               keytab=jvm.keytab, classpath=jvm.classpath, proxy_user=user)
        self.proxy_user = user
        self.conf = dataclasses.replace(self.conf, user=self._jvm.identity["user"])
        self.yarn_api.user = self.conf.user
        if self._default_home:
            self.hdfs_home = f"/user/{self.conf.user}"
            self._staging_root = f"{self.hdfs_home}/.knit/staging"
            self._cache_root = f"{self.hdfs_home}/.knit/cache"

    def _refuse_second_app(self):
        if self.app_id is not None and self.runtime_status() not in FINAL_STATES:
            raise KnitException(
                f"This Knit already runs {self.app_id}; a Knit follows one application. "
                f"Start the second one with another Knit() (Knit().start(...)), or "
                f"k.kill() the first.", app_id=self.app_id)

    def _worker_script(self, svc):
        """The service's script after the lines knit runs first.  The
        service's ``env`` goes before all of it: the JVM writes it into the
        worker script single-quoted, which bash takes literally, so values
        arrive byte for byte (Launch.workerScript)."""
        lines = []
        # knit 0.2 users set the containers' locale with KNIT_LANG.
        lang = svc.env.get("KNIT_LANG", self.lang)
        if lang and "LANG" not in svc.env:
            lines.append(f"export LANG={shlex.quote(lang)}")
        if svc.environment:
            name = os.path.basename(str(svc.environment).rstrip("/"))
            # YARN unpacks an archive into a directory named like the archive
            # file (./env.zip/); conda and venv layouts both keep the
            # interpreter in bin/python.  ENTER_ENV steps into the
            # environment's folder inside it (./env.zip/env/) when there is one.
            enter = [] if {"CONDA_PREFIX", "PYTHON_BIN"} & set(svc.env) else [ENTER_ENV]
            # knit's own values relative to the container's working directory
            # are the only ones expanded (by bash, before the script).
            here = f'"$PWD"/{shlex.quote(name)}'
            lines += [f"export {var}={here}{tail}" for var, tail in
                      (("CONDA_PREFIX", ""), ("PYTHON_BIN", "/bin/python"))
                      if var not in svc.env]
            # PATH not through the container environment: the NodeManager also
            # starts its own launch scripts with that environment, unexpanded,
            # and a PATH of "$PWD/...:$PATH" leaves them without `setsid`.
            # knit-unpack (in archives packed by knit) rewrites the paths the
            # environment was built with to where YARN unpacked it.
            lines += enter + ['export PATH="$CONDA_PREFIX/bin:$PATH"', UNPACK_HOOK]
        return "\n".join(lines + [svc.script])

    def _submit(self, spec, wait, wait_timeout, detach):
        """Submit a validated spec: the id first (the secret saved under it),
        then the upload and the submit, cancellable, in one gateway call."""
        before_submit(self, spec)
        secret = appsecrets.new_secret()
        if self.filesystems:
            spec = dataclasses.replace(
                spec, file_systems=list(dict.fromkeys(spec.file_systems + self.filesystems)))
        appsecrets.sweep(self.yarn_api, user=self.conf.user)
        jvm = self._jvm
        gw = jvm.gateway
        submit_id = secrets.token_hex(8)
        request = {"spec": spec.to_dict(), "submit": {
            "secret": secret, "submit_id": submit_id,
            "staging_root": self._staging_root, "cache_root": self._cache_root,
            "upload_always": bool(self.upload_always),
            "replication": self.conf.replication_factor,
            "jar": str(Path(self.knit_home) / "knit.jar"),
            # After each submit the JVM removes partial uploads older than this.
            "sweep_tmp_age_ms": int(self.partial_upload_age * 1000),
            "scripts": {n: self._worker_script(s) for n, s in spec.services.items()}}}
        local_env = [str(s.environment) for s in spec.services.values()
                     if s.environment and "://" not in str(s.environment)]
        app_id = None
        try:
            # The id first, and the secret saved under it, so that knit
            # knows the application before it can exist in YARN.
            app_id = jvm.call("createApplication", submit_id)
            appsecrets.save(app_id, secret)
            # Progress bars (on a terminal) while the JVM hashes and uploads the archive.
            # ASCII JSON: every value crosses py4j and the JVM unchanged.
            with UploadProgress(gw.proc.pid, local_env):
                reply = gw.call_interruptible("submit", jvm.key, json.dumps(request),
                                              on_interrupt=lambda: gw.call("cancel", submit_id))
            self.app_id, self._secret = app_id, secret
            self.last_upload = {k: v for k, v in json.loads(reply).items() if k != "app_id"}
            logger.info("Submitted %s (%s)", app_id,
                        " ".join(f"{k}={v}" for k, v in self.last_upload.items()))
            if wait:
                self.wait_for_am(wait_timeout)
        except BaseException:
            # Interrupted or failed: nothing may stay running.  cancel()
            # stops an upload in progress, or kills what was submitted (an
            # application that was submitted stays this Knit's, for logs).
            _quietly(gw.call, "cancel", submit_id)
            if app_id is not None:
                appsecrets.forget(app_id)
            raise
        if detach:
            # From here on the application is the user's: the gateway no
            # longer kills it when this process goes away.
            gw.call("release", submit_id)
        return app_id

    def wait_for_am(self, timeout=120):
        """Wait until the application's ApplicationMaster runs and answers.

        :meth:`start` calls it unless ``wait=False``.  In a Jupyter
        notebook a line shows the state while it waits.

        Raises
        ------
        YARNException
            The application ended (e.g. FAILED) before its AM came up; the
            message carries YARN's diagnostics.  One that already
            succeeded is no error.
        YARNTimeoutError
            The AM was not up within ``timeout`` seconds; the application
            is killed, since nobody could use it.

        Examples
        --------
        >>> app_id = k.start('sleep 60', wait=False)       # doctest: +SKIP
        >>> k.wait_for_am(timeout=60)                      # doctest: +SKIP
        """
        timeout = seconds(timeout, "timeout", "wait_for_am(timeout=60)")
        app_id = self._require_app()
        deadline = time.monotonic() + timeout
        pause = 0.05
        line = WaitLine(self, "waiting for the ApplicationMaster")   # in Jupyter only
        while True:
            info = self.yarn_api.status(app_id)
            state = info.get("state")
            if state == "FINISHED" and info.get("finalStatus") == "SUCCEEDED":
                line.end(state, final_status="SUCCEEDED")
                return     # a short job may be done before a poll sees its AM
            if state in FINAL_STATES:
                line.end(state, "before its ApplicationMaster came up", info.get("finalStatus"))
                raise YARNException(
                    f"{app_id} ended {state}/{info.get('finalStatus')} before its "
                    f"ApplicationMaster came up: {_diagnostics(info)}", app_id=app_id)
            am = self._am_of(info, required=False)
            if am is not None:
                try:
                    am.containers()
                    line.end(state, "ApplicationMaster up")
                    return
                except YARNException:      # registered, its channel not open yet
                    pass
            line.show(state)
            if time.monotonic() >= deadline:
                line.end(state, f"ApplicationMaster not up within {timeout} s; killed")
                self.kill()
                raise YARNTimeoutError(
                    f"The ApplicationMaster of {app_id} was not up after {timeout} s "
                    f"(state {state}: {_diagnostics(info)}); the application was killed. "
                    f"Check the queue's capacity for ApplicationMasters "
                    f"(yarn.scheduler.capacity.maximum-am-resource-percent), or wait "
                    f"longer with start(..., wait_timeout=600).", app_id=app_id)
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, 1.0)

    # -- state ----------------------------------------------------------
    def _require_app(self):
        if self.app_id is None:
            raise KnitException("No application yet: call start() first "
                                "(or attach to one with Knit.attach(app_id)).")
        return self.app_id

    def attach(self, app_id):
        """Follow an application started elsewhere (its secret, if stored here).

        Examples
        --------
        >>> k = Knit().attach('application_1795501918670_0004')  # doctest: +SKIP
        """
        self.yarn_api.status(app_id)     # ApplicationNotFound if unknown
        self.app_id, self._secret = app_id, appsecrets.load(app_id)
        return self

    @classmethod
    def current(cls, **kwargs):
        """The application this process runs in, from inside one of its containers.

        The container's own credential (from its YARN credentials file)
        opens the key-value store; when its service was given
        ``control=True`` (see :class:`knit.Service`) it also scales, adds
        and removes containers and ends the application, as a client can.
        ``kwargs`` go to :class:`Knit` (autodetection finds the cluster
        through the container's ``$HADOOP_CONF_DIR``).

        Examples
        --------
        >>> k = Knit.current()                   # doctest: +SKIP
        >>> k.scale('worker', 4)                 # doctest: +SKIP
        """
        from .kv import container_channel

        channel = container_channel()
        k = cls(**kwargs)
        k.app_id, k._container_channel = channel.app_id, channel
        return k

    def status(self):
        """The ResourceManager's dict for the application (``state``,
        ``finalStatus``, ``runningContainers``, ``allocatedMB``,
        ``allocatedVCores``, ``diagnostics``, ...)."""
        return self.yarn_api.status(self._require_app())

    def runtime_status(self):
        """The YARN state (``RUNNING``, ``FINISHED``, ...), ``'NONE'`` before start."""
        if self.app_id is None:
            return "NONE"
        state = self.yarn_api.state(self.app_id)
        if state in FINAL_STATES:
            appsecrets.forget(self.app_id)     # its AM is gone: nothing to protect
        return state

    def wait_for_completion(self, timeout=10):
        """Wait up to ``timeout`` seconds for the application to end.

        Returns True when it ended (in any final state), False on timeout.
        The ResourceManager is asked about once a second, less often as
        the wait goes on (up to every 5 s); REST calls ride out an RM
        restart or failover (see ``rm_retry_timeout``).  In a Jupyter
        notebook a line shows the state and containers while it waits,
        and how the wait ended (:class:`knit.progress.WaitLine`).
        """
        timeout = seconds(timeout, "timeout", "wait_for_completion(60)")
        self._require_app()
        deadline = time.monotonic() + timeout
        pause = WAIT_POLL
        line, state = WaitLine(self, "wait_for_completion"), None   # in Jupyter only
        while True:
            try:
                state = self.runtime_status()
                if state in FINAL_STATES:
                    line.end(state)
                    return True
                line.show(state)
            except YARNConnectionError:
                # No RM answered within rm_retry_timeout: an outage longer
                # than that is worth raising, but only once our own time is up.
                if time.monotonic() >= deadline:
                    raise
            if time.monotonic() >= deadline:
                line.end(state or "UNKNOWN", f"still going; wait_for_completion({timeout}) "
                                             f"timed out")
                return False
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * WAIT_BACKOFF, WAIT_POLL_MAX)

    def kill(self):
        """Kill the application; True once YARN reports it ended.

        Its staging directory in HDFS is removed as well.  Before any
        :meth:`start` there is nothing to kill: False, as in knit 0.2.

        Raises
        ------
        AuthorizationError
            YARN refused: this user is not the application's owner, nor in
            its modify ACL, nor an admin of its queue or of the cluster.
        YARNTimeoutError
            YARN accepted the kill but did not report the application
            ended within about 10 s.

        Examples
        --------
        >>> k.kill()                                        # doctest: +SKIP
        True
        """
        if self.app_id is None:
            return False
        app_id = self.app_id
        killed = bool(self._jvm.call("kill", app_id, self._staging_root))
        if not killed:
            raise YARNTimeoutError(
                f"{app_id} was asked to end but YARN still reports it "
                f"{self.yarn_api.state(app_id)} after 10 s; check again with k.status() "
                f"(`knit status {app_id}`), or kill it with `yarn application -kill {app_id}`.",
                app_id=app_id)
        appsecrets.forget(app_id)
        return killed

    def kill_all(self, all_users=False):
        """Kill every running knit application of this user (of every user with
        ``all_users``); return their ids.

        Examples
        --------
        >>> Knit().kill_all()                              # doctest: +SKIP
        ['application_1795501918670_0003']
        """
        killed = self.yarn_api.kill_all(all_users=all_users)
        for app_id in killed:
            appsecrets.forget(app_id)
        return killed

    # -- containers -----------------------------------------------------
    def _am(self, required=True):
        """The channel to the running AM; None (or an error if ``required``)
        while YARN has not started it yet or after the application ended."""
        return self._am_of(self.yarn_api.status(self._require_app()), required)

    def _am_of(self, info, required=True):
        app_id = self.app_id
        address = info.get("amRPCAddress")
        if info.get("state") != "RUNNING" or not address or address.endswith(":-1"):
            if not required:
                return None
            raise YARNException(f"{app_id} is {info.get('state')}, not RUNNING: its "
                                f"ApplicationMaster cannot be reached.", app_id=app_id)
        if self._container_channel is not None:
            return self._container_channel
        return AMChannel(address, self._secret or appsecrets.load(app_id), app_id=app_id)

    @property
    def kv(self):
        """The running application's key-value store (:class:`knit.kv.KeyValueStore`),
        shared with its containers (``knit-kv`` in their shell, :func:`knit.kv.current`
        in their Python).

        Examples
        --------
        >>> k.kv["config"] = "fast"                          # doctest: +SKIP
        >>> k.kv.wait("scheduler", timeout=60)               # doctest: +SKIP
        'tcp://10.0.0.5:8786'
        """
        from .kv import KeyValueStore

        return KeyValueStore(self._am())

    def add_link(self, name, url):
        """Show a link on the running application's web page (its YARN
        tracking URL, ``k.status()['trackingUrl']``): ``name: url``, clickable
        for ``http``/``https`` URLs, as text otherwise.  Adding a name again
        replaces its URL; the link lasts as long as the application.

        Parameters
        ----------
        name : str
            What the page calls it, e.g. ``'Dask dashboard'``.
        url : str
            A URL with a scheme and a host.  Viewers' browsers open it
            directly, not through the ResourceManager's proxy.

        Examples
        --------
        >>> k.add_link("TensorBoard", "http://node1:6006/")   # doctest: +SKIP
        >>> k.links()                                          # doctest: +SKIP
        {'TensorBoard': 'http://node1:6006/'}
        """
        from .webui import check_url, link_key

        key, url = link_key(name), check_url(url)
        self.kv[key] = url

    def remove_link(self, name):
        """Take the link ``name`` off the application's web page (no error
        if there is none).

        Examples
        --------
        >>> k.remove_link("TensorBoard")                       # doctest: +SKIP
        """
        from .webui import link_key

        key = link_key(name)
        self.kv.pop(key, None)

    def links(self):
        """The links on the running application's web page, ``{name: url}``:
        those added with :meth:`add_link`, by knit's Dask and IPython Parallel
        clusters, and by containers (``knit-kv put "knit.link.NAME" URL``).

        Examples
        --------
        >>> k.links()                                          # doctest: +SKIP
        {'Dask dashboard': 'http://10.0.0.5:8787/status'}
        """
        from .webui import LINK_PREFIX

        kv, found = self.kv, {}
        for key in kv.ls(LINK_PREFIX):
            url = kv.get(key)   # None: it went meanwhile (its container ended)
            if url is not None:
                found[key[len(LINK_PREFIX):]] = url
        return found

    def _worker_containers(self, service=None):
        am = self._am(required=False)
        found = am.containers()["containers"] if am else []
        return [c for c in found if service is None or c.get("service") == service]

    def get_containers(self, service=None):
        """Ids of the application's running containers, the ApplicationMaster's first.

        With ``service``, only that service's running containers (the
        ApplicationMaster's left out).

        As in knit 0.2 the list includes the ApplicationMaster's container,
        so ``len(k.get_containers())`` is the ResourceManager's
        ``runningContainers``.  :meth:`get_worker_containers` leaves it out.
        Empty before the ApplicationMaster runs and after the application ended.

        Examples
        --------
        >>> k.get_containers()                             # doctest: +SKIP
        ['container_1795501918670_0004_01_000001', 'container_1795501918670_0004_01_000002']
        """
        if service is not None:
            return [c["id"] for c in self._worker_containers(service) if c["state"] == "RUNNING"]
        workers = self.get_worker_containers()
        am = self.am_container_id()
        return ([am] if am else []) + workers

    def get_worker_containers(self):
        """Ids of the running worker containers (the ApplicationMaster's left out).

        Examples
        --------
        >>> k.start('sleep 60', num_containers=2)           # doctest: +SKIP
        >>> len(k.get_worker_containers())                 # doctest: +SKIP
        2
        """
        return [c["id"] for c in self._worker_containers() if c["state"] == "RUNNING"]

    def am_container_id(self):
        """The container id of the running ApplicationMaster attempt, or None.

        Since a ResourceManager restart starts a new epoch of container
        numbers, the AM is not always ``..._000001``: the id comes from the
        attempt the ResourceManager reports.
        """
        attempts = self.yarn_api.app_attempts(self._require_app())
        running = [a for a in attempts if a.get("containerId")
                   and str(a.get("appAttemptState", "RUNNING")).upper() == "RUNNING"]
        if not running:
            return None
        return max(running, key=lambda a: int(a.get("id", 0)))["containerId"]

    def get_container_statuses(self):
        """``{container_id: state}``: the running ApplicationMaster's container
        first (``RUNNING``), then every worker container the AM knows
        (``ALLOCATED``, ``RUNNING``, ``SUCCEEDED``, ``FAILED``, ``KILLED``,
        ``RELEASED``); requests not yet granted have no id and are left out.

        As in knit 0.2 it covers every id of :meth:`get_containers`.

        Examples
        --------
        >>> statuses = k.get_container_statuses()          # doctest: +SKIP
        >>> [statuses[c] for c in k.get_containers()]      # doctest: +SKIP
        ['RUNNING', 'RUNNING']
        """
        workers = {c["id"]: c["state"] for c in self._worker_containers() if c["id"]}
        am = self.am_container_id()
        return {am: "RUNNING", **workers} if am else workers

    def add_containers(self, num_containers=1, virtual_cores=None, memory=None, tag=None,
                       service=None):
        """Ask the running application for more containers.

        ``virtual_cores`` and ``memory`` (MB) default to the sizes the
        application was started with (of ``service``, by default the first
        service: the only one of an application made by :meth:`start`).  With a ``tag``, the new containers
        (and their replacements) see it as ``$KNIT_CONTAINER_TAG``.

        Examples
        --------
        >>> k.add_containers(num_containers=2, memory=256)   # doctest: +SKIP
        """
        for name, value in (("num_containers", num_containers),
                            ("virtual_cores", virtual_cores), ("memory", memory)):
            if value is None and name != "num_containers":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise KnitValueError(f"{name} must be a positive int, got {value!r}: "
                                     f"e.g. add_containers(num_containers=2, memory=256)")
        return self._am().add(num_containers, memory, virtual_cores, tag=tag, service=service)

    def scale(self, service, n=None):
        """Set the number of containers of one service of the running application.

        More are requested at the service's size; fewer cancels requests not
        yet granted first, then stops the running containers of highest
        ``$KNIT_INSTANCE``.  Returns ``{"service": ..., "from": N, "to": n}``.
        An application of one service (every one from :meth:`start`) takes
        the number alone: ``k.scale(4)``.

        Examples
        --------
        >>> k.scale('worker', 4)                           # doctest: +SKIP
        {'service': 'worker', 'from': 2, 'to': 4}
        >>> k.scale(4)                                     # doctest: +SKIP
        {'service': 'knit', 'from': 2, 'to': 4}
        """
        if n is None and not isinstance(service, str):
            service, n = None, service
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise KnitValueError(f"n must be an int of at least 0, got {n!r}: e.g. "
                                 f"k.scale('worker', 2)")
        am = self._am()
        if service is None:
            services = sorted(am.spec()["services"])
            if len(services) != 1:
                raise KnitValueError(
                    f"{self.app_id} has {len(services)} services ({', '.join(services)}): "
                    f"name the one to scale, e.g. k.scale({services[0]!r}, {n})")
            service = services[0]
        return am.scale(service, n)

    def kill_container(self, container_id):
        """Kill one container of any service; it is not replaced and its
        ``$KNIT_INSTANCE`` is free again (what :meth:`remove_containers` does).

        Examples
        --------
        >>> k.kill_container(k.get_containers(service='worker')[0])  # doctest: +SKIP
        """
        return self._am().remove(container_id)

    def spec(self):
        """The :class:`~knit.spec.ApplicationSpec` of the running application, as submitted.

        Examples
        --------
        >>> print(k.spec().to_yaml())                      # doctest: +SKIP
        """
        return ApplicationSpec.from_dict(self._am().spec())

    def remove_containers(self, container_id):
        """Stop one worker container; it is not restarted.

        Removing every container leaves the application running (ready for
        :meth:`add_containers`) until it is killed.
        """
        return self._am().remove(container_id)

    # -- logs -----------------------------------------------------------
    def logs(self, shell=False, timeout=60, file=None):
        """``{container_id: text}`` of every container's log files.

        While the application runs they are read from the NodeManagers;
        after it ended, from the aggregated logs in HDFS, once YARN reports
        that aggregation is complete.  ``shell=True`` reads them with the
        ``yarn logs`` command instead (the application must have ended).
        ``file='stdout'`` gives just that file of each container that has it.

        Examples
        --------
        >>> k.logs(file='stdout')                          # doctest: +SKIP
        {'container_1795501918670_0004_01_000002': 'hello\\n', ...}
        """
        return read_logs(self.yarn_api, self._require_app(), shell=shell, timeout=timeout,
                         file=file, find_am=self._am, jvm=self._jvm)

    def print_logs(self, shell=False):
        """Print :meth:`logs`, one section per container."""
        for cid, text in sorted(self.logs(shell=shell).items()):
            print(f"===== {cid} =====\n{text}")

    # -- the upload cache -----------------------------------------------
    def cache_entries(self):
        """The files of the HDFS upload cache (``<hdfs_home>/.knit/cache``).

        Returns
        -------
        list of dict
            ``hash``, ``name``, ``path``, ``size`` (bytes), ``modified`` and
            ``accessed`` (ms since the epoch; HDFS keeps access times only to
            ``dfs.namenode.accesstime.precision``), ``partial`` (the
            leftover of an interrupted upload).

        Examples
        --------
        >>> [e['name'] for e in k.cache_entries()]          # doctest: +SKIP
        ['dask.zip', 'knit.jar']
        """
        import json
        return json.loads(self._jvm.call("cacheEntries", self._cache_root))

    def clean_cache(self, older_than=0):
        """Evict cache files not used (modified or read) for ``older_than``.

        ``older_than`` is seconds or text like ``'7d'``, ``'12h'``; 0 (the
        default) evicts everything except what a running application of
        this user still names among its files (its new containers would
        fail to localize it).  Returns the removed paths.

        Examples
        --------
        >>> k.clean_cache(older_than='30d')                 # doctest: +SKIP
        ['hdfs://nn:8020/user/me/.knit/cache/3f2a.../old-env.zip']
        """
        import json

        from .utils import parse_duration
        ms = int(parse_duration(older_than) * 1000)
        return json.loads(self._jvm.call("cleanCache", self._cache_root, self._staging_root, ms))

    # -- environments ---------------------------------------------------
    @staticmethod
    def create_env(env_name, packages=None, remove=False, channels=None,
                   conda_pars=None, **kwargs):
        """Build a Python environment and pack it; return the archive path.

        See :func:`knit.env.create_env`.
        """
        from .env import create_env
        return create_env(env_name, packages=packages, remove=remove, channels=channels,
                          conda_pars=conda_pars, **kwargs)

    # -- display --------------------------------------------------------
    def _repr_html_(self):
        from .display import app_html
        return app_html(self)

    # -- context manager ------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._kill_if_running()

    def _kill_if_running(self):
        """Kill the application unless there is none or it already ended."""
        if self.app_id and self.runtime_status() not in FINAL_STATES:
            self.kill()


def _quietly(fn, *args):
    """Run a clean-up call whose failure must not hide the error being raised."""
    try:
        return fn(*args)
    except Exception as e:
        logger.warning("clean-up %s%r failed: %s", getattr(fn, "__name__", fn), args, e)


def _diagnostics(info):
    text = str(info.get("diagnostics") or "").strip()
    return text or "YARN gave no diagnostics"
