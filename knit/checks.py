"""Checks on ``Knit.start`` arguments, run before anything reaches the cluster.

Each failure names the argument, what was wrong and a corrected call.
"""
import math
import os
import stat
import tarfile
import warnings
import zipfile

from .exceptions import KnitTypeError, KnitValueError, KnitWarning
from .spec import ARCHIVE_SUFFIXES, check_envvars, name_list, nonempty_str, path_list, positive_int


def seconds(value, name, example):
    """``value`` as a number of seconds (0 or more), or a clear error.

    Examples
    --------
    >>> seconds(2, "timeout", "wait_for_completion(60)")
    2.0
    >>> seconds("5", "timeout", "wait_for_completion(60)")
    Traceback (most recent call last):
    ...
    knit.exceptions.KnitValueError: timeout must be a number of seconds (0 or more), got '5'; e.g. wait_for_completion(60)
    """
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or math.isnan(value) or value < 0):
        raise KnitValueError(f"{name} must be a number of seconds (0 or more), got "
                             f"{value!r}; e.g. {example}")
    return float(value)


def _check_local(path, what):
    if "://" in path:
        return
    if not os.path.exists(path):
        raise KnitValueError(f"{what} {path!r} does not exist (looked in "
                             f"{os.path.abspath(path)}); fix the path or upload it to HDFS "
                             f"and pass 'hdfs://...'.")
    _check_kind(path, what)


def _kind(mode):
    for test, name in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _check_kind(path, what):
    """Only regular files and folders (symbolic links to them too) can be
    uploaded: reading a FIFO or a device would block the upload for good."""
    mode = os.stat(path).st_mode
    if stat.S_ISREG(mode):
        return
    if not stat.S_ISDIR(mode):
        raise KnitValueError(f"{what} {path!r} is {_kind(mode)}; only regular files and "
                             f"folders can be shipped: copy its content into a file first.")
    for root, dirs, names in os.walk(path, followlinks=True):
        for name in names + dirs:
            inner = os.path.join(root, name)
            try:
                mode = os.stat(inner).st_mode
            except OSError:
                raise KnitValueError(f"{inner!r} in {what} {path!r} is a broken link; "
                                     f"remove it or fix its target.") from None
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise KnitValueError(f"{inner!r} in {what} {path!r} is {_kind(mode)}; "
                                     f"only regular files and folders can be shipped: "
                                     f"remove it from the folder.")


def check_archive(path, what="archive"):
    """Refuse a local archive that YARN could not unpack (truncated, not an archive).

    A zip's table of contents sits at its end, so a truncated zip fails to
    open; every member must also lie within the file.  A tar (gzipped or
    not) has no table: it is read to its end, which also finds a cut-off
    gzip stream.

    Examples
    --------
    >>> check_archive('env.zip')                         # doctest: +SKIP
    >>> check_archive('notes.txt')                       # not an archive name: nothing to check
    """
    path = os.fspath(path)
    name = path.lower()
    if "://" in path or not name.endswith(ARCHIVE_SUFFIXES) or not os.path.isfile(path):
        return
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key in _CHECKED:
        return
    fix = ("rebuild or re-download it (a packed environment: Knit.create_env(...) or "
           "`knit env pack PREFIX`)")
    try:
        if name.endswith(".zip"):
            size = os.path.getsize(path)
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    if info.header_offset + info.compress_size > size:
                        raise zipfile.BadZipFile(f"member {info.filename!r} runs past the end")
        else:
            with tarfile.open(path, "r:*") as t:
                for _ in t:
                    pass
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise KnitValueError(f"{what} {path!r} is not a readable "
                             f"{'zip' if name.endswith('.zip') else 'tar'} archive ({e}); "
                             f"YARN could not unpack it: {fix}.") from None
    _CHECKED.add(key)


# Archives found readable in this process, by (path, size, mtime): a big
# tar.gz is read to its end only once.
_CHECKED = set()


def validate_start(knit, *, cmd, num_containers, virtual_cores, memory, files, envvars,
                   app_name, queue, env, max_restarts, max_attempts, am_memory, am_vcores,
                   checks, nodes=None, racks=None, node_label=None, gpus=0):
    """Raise a :class:`~knit.exceptions.KnitException` for bad ``start`` input.

    Types and local files are always checked; with ``checks=True`` the
    scheduler's limits, the queue and the cluster's capacity are checked
    too, which also shows an unreachable ResourceManager before any upload.
    """
    if not isinstance(cmd, str) or not cmd.strip():
        raise KnitTypeError(f"cmd must be a non-empty shell command string, got {cmd!r}")
    # Zero containers is allowed: the application waits for add_containers().
    positive_int("num_containers", num_containers, minimum=0)
    for name, value in (("virtual_cores", virtual_cores), ("memory", memory),
                        ("max_attempts", max_attempts), ("am_memory", am_memory),
                        ("am_vcores", am_vcores)):
        positive_int(name, value)
    positive_int("max_restarts", max_restarts, minimum=-1)
    positive_int("gpus", gpus, minimum=0)
    for name, value in (("app_name", app_name), ("queue", queue)):
        nonempty_str(name, value)
    check_envvars(envvars)
    name_list("nodes", nodes)
    name_list("racks", racks)
    if node_label is not None and not isinstance(node_label, str):
        raise KnitTypeError(f"{{p:node_label}} must be a string, got {node_label!r}")
    paths = path_list("files", files)
    for p in paths:
        _check_local(p, "file")
        check_archive(p, "file")
    names = [os.path.basename(p.rstrip("/")) for p in paths]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise KnitValueError(f"files {dupes} share a base name; every file is linked "
                             f"into the container by base name, so rename one.")
    if env is not None:
        if not isinstance(env, (str, os.PathLike)):
            raise KnitTypeError(f"{{p:env}} must be the path or name of a packed "
                                f"environment, got {env!r}")
        _check_local(os.fspath(env), "environment archive")
        check_archive(env, "environment archive")
    if checks:
        _check_cluster(knit, [(num_containers, virtual_cores, memory)], queue, am_memory, am_vcores)
        check_resource_types(knit.yarn_api, {"yarn.io/gpu": gpus})
        check_node_label(knit.yarn_api, node_label, queue)


def token_lifetime_warning(settings, spec, keytab):
    """The warning for an application that may outlive its delegation
    tokens, or None.

    On a Kerberos cluster an application submitted with a ticket (not a
    keytab) runs on tokens that HDFS refuses past their max lifetime
    (``dfs.namenode.delegation.token.max-lifetime``), unless the RM fetches
    new ones (``yarn.resourcemanager.proxy-user-privileges.enabled``).  An
    application with ``keep_alive`` or a ``lifetime`` beyond that may.

    Examples
    --------
    >>> from knit.conf import HadoopSettings
    >>> from knit.spec import ApplicationSpec, Service
    >>> s = HadoopSettings(security_enabled=True, token_max_lifetime=3600)
    >>> spec = ApplicationSpec({'main': Service('sleep 9999')}, lifetime=7200)
    >>> token_lifetime_warning(s, spec, keytab=False)[:36]
    'The application may run 7200 s, past'
    >>> token_lifetime_warning(s, spec, keytab=True) is None
    True
    """
    if not settings.security_enabled or keytab or settings.rm_refetches_tokens:
        return None
    limit = settings.token_max_lifetime
    if spec.lifetime and spec.lifetime <= limit:
        return None
    if not spec.lifetime and not spec.keep_alive:
        return None
    how_long = f"{spec.lifetime} s" if spec.lifetime else "until killed (keep_alive)"
    return (f"The application may run {how_long}, past the cluster's delegation token "
            f"max lifetime ({limit:.0f} s, dfs.namenode.delegation.token.max-lifetime): "
            f"then its containers and ApplicationMaster lose HDFS ('Token has expired'). "
            f"Submit with a keytab, which the application uses for new tokens: "
            f"Knit(principal=..., keytab=...), `knit start --principal NAME@REALM --keytab "
            f"PATH ...`, or principal:/keytab: in knit's config file.")


def before_submit(knit, spec):
    """The last word before a submit (``start()`` and ``submit()``, checked
    or not): warn of an application that may outlive its tokens
    (:func:`token_lifetime_warning`), and make one authenticated call to the
    ResourceManager, so that an expired ticket, an untrusted certificate or
    a refusal stops the submit instead of surfacing once the application
    runs (``--no-checks`` skips every other call)."""
    warning = token_lifetime_warning(knit.conf, spec,
                                     bool(getattr(getattr(knit, "_jvm", None), "keytab", None)))
    if warning:
        warnings.warn(warning, KnitWarning, stacklevel=4)
    knit.yarn_api.cluster_info()


def validate_spec(knit, spec, checks=True):
    """Raise a :class:`~knit.exceptions.KnitException` for an
    :class:`~knit.spec.ApplicationSpec` that cannot run: its local files and
    environments must exist and be readable archives where they are archives,
    and (with ``checks``) every service must fit the scheduler's limits, the
    queue must exist and the whole application must fit the cluster.
    """
    for name, svc in spec.services.items():
        for link, f in svc.files.items():
            _check_local(f.source, f"service {name!r} file {link!r}:")
            check_archive(f.source, f"service {name!r} file")
        if svc.environment is not None:
            _check_local(svc.environment, f"service {name!r} environment archive")
            check_archive(svc.environment, "environment archive")
    if checks:
        _check_cluster(knit, [(s.instances, s.resources.vcores, s.resources.memory)
                              for s in spec.services.values()], spec.queue,
                       spec.master.resources.memory, spec.master.resources.vcores)
        for svc in spec.services.values():
            check_resource_types(knit.yarn_api, {"yarn.io/gpu": svc.resources.gpus,
                                                 **svc.resources.other})
            check_node_label(knit.yarn_api, svc.node_label or spec.node_label, spec.queue)


def _check_cluster(knit, sizes, queue, am_memory, am_vcores):
    """``sizes``: (containers, vcores, memory) of each service."""
    conf, api = knit.conf, knit.yarn_api
    for n, vcores, memory in sizes:
        if memory > conf.max_memory_mb:
            raise KnitValueError(
                f"{{p:memory}}={memory} MB is above the largest container the scheduler "
                f"allows ({conf.max_memory_mb} MB, yarn.scheduler.maximum-allocation-mb); "
                f"use {{fix}} or less.", fix={"memory": conf.max_memory_mb})
        if vcores > conf.max_vcores:
            raise KnitValueError(
                f"{{p:virtual_cores}}={vcores} is above the scheduler's maximum "
                f"({conf.max_vcores}, yarn.scheduler.maximum-allocation-vcores); "
                f"use {{fix}} or less.", fix={"virtual_cores": conf.max_vcores})
    if am_memory > conf.max_memory_mb:
        raise KnitValueError(
            f"{{p:am_memory}}={am_memory} MB is above the largest container the scheduler "
            f"allows ({conf.max_memory_mb} MB); use {{fix}} or less.",
            fix={"am_memory": conf.max_memory_mb})
    if am_vcores > conf.max_vcores:
        raise KnitValueError(
            f"{{p:am_vcores}}={am_vcores} is above the scheduler's maximum "
            f"({conf.max_vcores}); use {{fix}}.", fix={"am_vcores": 1})
    if not api.queue_exists(queue):
        known = ", ".join(sorted(api.queue_names()))
        raise KnitValueError(f"{{p:queue}} {queue!r} does not exist; the cluster's queues "
                             f"are: {known}. E.g. {{fix}}", fix={"queue": "default"})
    m = api.cluster_metrics()
    # YARN rounds every request up to a multiple of the minimum allocation.
    step = max(conf.min_memory_mb, 1)
    am_mb = math.ceil(am_memory / step) * step
    need_mb = sum(n * math.ceil(memory / step) * step for n, _, memory in sizes) + am_mb
    need_vc = sum(n * vcores for n, vcores, _ in sizes) + am_vcores
    total_mb, total_vc = m.get("totalMB") or 0, m.get("totalVirtualCores") or 0
    if len(sizes) == 1:
        n, vcores, memory = sizes[0]
        if total_mb and need_mb > total_mb:
            fit = max(0, (total_mb - am_mb) // (math.ceil(memory / step) * step))
            raise KnitValueError(
                f"{n} containers of {memory} MB plus the ApplicationMaster need {need_mb} MB, "
                f"but the whole cluster has {total_mb} MB; at most {fit} such containers "
                f"could ever run: {{fix}}.", fix={"num_containers": fit})
        if total_vc and need_vc > total_vc:
            fit = max(0, (total_vc - am_vcores) // vcores)
            raise KnitValueError(
                f"{n} containers of {vcores} vcores plus the ApplicationMaster need {need_vc} "
                f"vcores, but the whole cluster has {total_vc}; "
                f"use {{fix}} or fewer vcores.", fix={"num_containers": fit})
    elif (total_mb and need_mb > total_mb) or (total_vc and need_vc > total_vc):
        raise KnitValueError(
            f"the services' containers plus the ApplicationMaster need {need_mb} MB and "
            f"{need_vc} vcores, but the whole cluster has {total_mb} MB and {total_vc} "
            f"vcores: lower some service's instances or resources.")


# -- placement: resource types and node labels (pure REST reads) ------------

def _declared_resources(api):
    """``{resource type: the most one node has}`` over the cluster's nodes,
    in the order YARN lists them (memory-mb, vcores, then declared types)."""
    nodes = api.nodes(states="RUNNING") or api.nodes()
    most = {}
    for node in nodes:
        infos = ((node.get("totalResource") or {}).get("resourceInformations") or {})
        infos = infos.get("resourceInformation") or []
        if isinstance(infos, dict):
            infos = [infos]
        if not infos:
            # Hadoop 2 lists memory and vcores only.
            infos = [{"name": "memory-mb", "value": node.get("availMemoryMB", 0)
                      + node.get("usedMemoryMB", 0)},
                     {"name": "vcores", "value": node.get("availableVirtualCores", 0)
                      + node.get("usedVirtualCores", 0)}]
        for info in infos:
            name, value = info.get("name"), int(info.get("value") or 0)
            if name:
                most[name] = max(most.get(name, 0), value)
    return most


def check_resource_types(api, wanted):
    """Refuse resource requests the cluster can never grant, before submitting.

    Parameters
    ----------
    api : knit.yarn_api.YARNAPI
        The cluster's REST client (``Knit().yarn_api``).
    wanted : dict
        ``{resource type: amount per container}``, YARN's names
        (``{"yarn.io/gpu": 2}``; ``memory-mb`` and ``vcores`` too).

    Raises
    ------
    KnitValueError
        A type the cluster does not declare (the message lists those it
        does), or an amount no single node has.

    Examples
    --------
    >>> check_resource_types(k.yarn_api, {"yarn.io/gpu": 1})     # doctest: +SKIP
    >>> check_resource_types(k.yarn_api, {"yarn.io/fpga": 1})    # doctest: +SKIP
    Traceback (most recent call last):
    ...
    KnitValueError: The cluster declares no resource type 'yarn.io/fpga'; the cluster declares: memory-mb, vcores, yarn.io/gpu. ...
    """
    if not isinstance(wanted, dict):
        raise KnitTypeError(f"resources must be a dict of resource type to amount, e.g. "
                            f"{{'yarn.io/gpu': 1}}, got {wanted!r}")
    wanted = {name: amount for name, amount in wanted.items() if amount}
    if not wanted:
        return
    for name, amount in wanted.items():
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise KnitTypeError(f"the amount of {name!r} must be a whole number of at "
                                f"least 0, got {amount!r}")
    declared = _declared_resources(api)
    listing = ", ".join(declared) or "nothing (no NodeManager is registered)"
    for name, amount in wanted.items():
        if name not in declared:
            raise KnitValueError(
                f"The cluster declares no resource type {name!r}; the cluster declares: "
                f"{listing}. Ask for one of those, or have the cluster's administrator "
                f"declare it (yarn.resource-types in resource-types.xml and "
                f"yarn.nodemanager.resource-type.{name} in each node's "
                f"node-resources.xml; the mini cluster: `knit minicluster start --gpus N`).")
        if amount > declared[name]:
            raise KnitValueError(
                f"No node of the cluster has {amount} {name}: the most one node has is "
                f"{declared[name]}, and a container runs on one node. Ask for "
                f"{declared[name]} or fewer per container.")


def check_node_label(api, label, queue=None):
    """Refuse a node label the cluster does not have, or ``queue`` may not use.

    Without this check YARN accepts the request and the containers wait
    for a node that never comes.

    Parameters
    ----------
    api : knit.yarn_api.YARNAPI
        The cluster's REST client (``Knit().yarn_api``).
    label : str
        A node label (YARN's label expressions are one label; ``""`` or
        None is the default partition, always fine).
    queue : str, optional
        The queue that will ask for it.

    Raises
    ------
    KnitValueError
        The cluster has no such label (the message lists those it has), or
        the queue has no access to it or no capacity on it.

    Examples
    --------
    >>> check_node_label(k.yarn_api, "fast", queue="default")    # doctest: +SKIP
    >>> check_node_label(k.yarn_api, "nosuch")                   # doctest: +SKIP
    Traceback (most recent call last):
    ...
    KnitValueError: The cluster has no node label 'nosuch'; its node labels are: fast. ...
    """
    if not label:
        return
    if not isinstance(label, str):
        raise KnitTypeError(f"{{p:node_label}} must be a string, got {label!r}")
    labels = api.node_labels()
    if label not in labels:
        known = ", ".join(sorted(labels))
        if known:
            raise KnitValueError(
                f"The cluster has no node label {label!r}; its node labels are: {known}. "
                f"Use one of them, e.g. {{fix}}", fix={"node_label": sorted(labels)[0]})
        raise KnitValueError(
            f"The cluster has no node label {label!r}: it has no node labels at all "
            f"(yarn.node-labels.enabled, `yarn rmadmin -addToClusterNodeLabels`; the mini "
            f"cluster: `knit minicluster start --node-labels nm2=fast`). Drop node_label.")
    if queue is None:
        return
    info = api.queue(queue)
    if info is None:
        return          # the queue check (queue_exists) reports it
    why = _label_refusal(info, label)
    if why:
        others = [q for q in api.queue_names()
                  if q != queue and not _label_refusal(api.queue(q) or {}, label)]
        instead = (f"Use a queue that may, e.g. {{fix}}, or ask" if others else "Ask")
        raise KnitValueError(
            f"Queue {queue!r} {why} node label {label!r}: a queue needs it listed in "
            f"yarn.scheduler.capacity.<queue>.accessible-node-labels and "
            f"accessible-node-labels.{label}.capacity above 0. {instead} the cluster's "
            f"administrator to give {queue!r} a share of {label!r}.",
            fix={"queue": others[0], "node_label": label} if others else None)


def _label_refusal(queue_info, label):
    """Why a queue (a scheduler queue dict) cannot run containers on ``label``,
    or None when it can."""
    accessible = queue_info.get("nodeLabels") or []
    if isinstance(accessible, str):
        accessible = [accessible]
    if "*" not in accessible and label not in accessible:
        return "may not use"
    parts = (queue_info.get("capacities") or {}).get("queueCapacitiesByPartition") or []
    for part in (parts if isinstance(parts, list) else [parts]):
        if part.get("partitionName") == label and not float(part.get("maxCapacity") or 0):
            return "has no capacity on"
    return None
