package io.knit;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.DataOutputBuffer;
import org.apache.hadoop.security.Credentials;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.security.token.Token;
import org.apache.hadoop.util.ShutdownHookManager;
import org.apache.hadoop.yarn.api.ApplicationConstants;
import org.apache.hadoop.yarn.api.ApplicationConstants.Environment;
import org.apache.hadoop.yarn.api.protocolrecords.RegisterApplicationMasterResponse;
import org.apache.hadoop.yarn.api.records.ApplicationAttemptId;
import org.apache.hadoop.yarn.api.records.Container;
import org.apache.hadoop.yarn.api.records.ContainerExitStatus;
import org.apache.hadoop.yarn.api.records.ContainerId;
import org.apache.hadoop.yarn.api.records.ContainerLaunchContext;
import org.apache.hadoop.yarn.api.records.ContainerStatus;
import org.apache.hadoop.yarn.api.records.FinalApplicationStatus;
import org.apache.hadoop.yarn.api.records.LocalResource;
import org.apache.hadoop.yarn.api.records.NodeId;
import org.apache.hadoop.yarn.api.records.NodeReport;
import org.apache.hadoop.yarn.api.records.Priority;
import org.apache.hadoop.yarn.api.records.Resource;
import org.apache.hadoop.yarn.api.records.UpdatedContainer;
import org.apache.hadoop.yarn.client.api.AMRMClient.ContainerRequest;
import org.apache.hadoop.yarn.client.api.async.AMRMClientAsync;
import org.apache.hadoop.yarn.client.api.async.NMClientAsync;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.security.AMRMTokenIdentifier;

import io.knit.ControlServer.Reply;
import io.knit.Worker.State;

/**
 * knit's ApplicationMaster: runs the worker command in the requested number
 * of containers, restarts failed ones within the restart budget, answers the
 * control API (see {@link ControlServer}) and finishes the application when
 * every worker has ended.
 *
 * <p>Threads: the AMRM and NM callback threads, the HTTP threads and the main
 * thread share the state below under {@code this}'s lock. The main thread only
 * waits for {@link #done} and then unregisters: AMRMClientAsync must not be
 * stopped from its own callback thread.
 */
public final class ApplicationMaster {
    // No static fields of Hadoop types here: they would initialise log4j before
    // main() has pointed it at knit-log4j.properties.
    private static final int FAST_HEARTBEAT_MS = 100;
    private static final int SLOW_HEARTBEAT_MS = 1000;
    /** Longest final message (the RM keeps 64 KB of an attempt's diagnostics by default). */
    private static final int DIAGNOSTICS_MAX = 4000;
    /**
     * Container requests handed to AMRMClient per heartbeat, and at most
     * outstanding there: a request for many containers is issued a batch at
     * a time from the heartbeat, so neither the AM's lock nor the RM's
     * scheduler ever sees all of it at once.
     */
    static final int REQUEST_BATCH = 200;
    static final int MAX_OUTSTANDING = 2000;
    /** REQUESTED entries listed by GET /containers at most (the counts are always exact). */
    private static final int MAX_LISTED_REQUESTS = 10_000;
    /** Runs before Hadoop's FileSystem hook (priority 10) closes the filesystems. */
    private static final int SHUTDOWN_HOOK_PRIORITY = 30;

    /** A wanted container: how many failed predecessors it replaces, and the index it keeps (-1: new). */
    private static final class Want {
        final int restarts;
        final int instance;

        Want(int restarts, int instance) {
            this.restarts = restarts;
            this.instance = instance;
        }
    }

    /** Containers of one group wanted but not yet asked of AMRMClient: a count, not objects. */
    private static final class Backlog {
        int fresh;
        /** Wanted replacements, oldest first. */
        final Deque<Want> replacements = new ArrayDeque<>();

        int size() {
            return fresh + replacements.size();
        }

        /** Takes one wanted container. */
        Want take() {
            if (!replacements.isEmpty()) {
                return replacements.poll();
            }
            fresh--;
            return new Want(0, -1);
        }
    }

    /** A container request handed to AMRMClient, not yet granted. */
    private static final class Pending {
        final ContainerRequest request;
        final Want want;

        Pending(ContainerRequest request, Want want) {
            this.request = request;
            this.want = want;
        }
    }

    // ---- fixed at start
    private final Configuration conf = new YarnConfiguration();
    /** The control channel's certificate and key (see {@link Tls}). */
    private final byte[] tlsMaterial;
    /** The control server's TLS context, built while Hadoop's clients start (see run). */
    private final CompletableFuture<javax.net.ssl.SSLContext> controlTls;
    /** The application spec as submitted. */
    private final AppSpec app;
    /** Each service's files and worker script, by link name. */
    private final Map<String, Map<String, LocalResource>> serviceResources = new HashMap<>();
    /** knit-kv's files, placed in the background; in serviceResources once kvMerged. */
    private CompletableFuture<Map<String, LocalResource>> kvFiles;
    private boolean kvMerged;
    private final String workerCommand;
    /**
     * The application's view and modify ACLs, for every worker's launch
     * context: a NodeManager takes an application's ACLs from the first of
     * its containers it launches, so a node running only workers would
     * otherwise let no one but the owner and the admins read their logs.
     * Null when the spec names nobody.
     */
    private final Map<org.apache.hadoop.yarn.api.records.ApplicationAccessType, String> workerAcls;
    private final Path stagingDir;
    /** Opened in the background from the constructor on (see run). */
    private final CompletableFuture<FileSystem> stagingFs;
    private final StateStore stateStore;
    private final ApplicationAttemptId attemptId;
    private final int maxAttempts;
    /** Rebuilt when TokenRenewer fetches new delegation tokens. */
    private volatile ByteBuffer workerTokens;

    private AMRMClientAsync<ContainerRequest> amrm;
    private NMClientAsync nm;
    private ControlServer http;
    /** The application's page at its tracking URL (issue 27); null if it could not start. */
    private WebUi web;
    private Resource maxCapability;

    // ---- state, guarded by this
    private final Map<ContainerId, Worker> workers = new LinkedHashMap<>();
    /**
     * allocationRequestId to the resources of its requests. Group i < the
     * number of services is service i's own; later groups come from
     * add_containers with other sizes or a tag.
     */
    private final Map<Long, Resource> groups = new HashMap<>();
    /** allocationRequestId to its service. */
    private final Map<Long, String> groupService = new HashMap<>();
    /** Restart budgets, depends, instance indices and the finish rule. */
    private final ServiceRules rules = new ServiceRules();
    private final Map<Long, Deque<Pending>> pending = new HashMap<>();
    private final Map<Long, Backlog> backlog = new HashMap<>();
    /** Containers the user removed: a later attempt must not adopt them. */
    private final java.util.Set<String> removedIds = new java.util.LinkedHashSet<>();
    /** Groups added with a tag; their containers see it as $KNIT_CONTAINER_TAG. */
    private final Map<Long, String> groupTags = new HashMap<>();
    private long nextGroup = 1;
    /** Workers that ended by themselves (not removed), successful or not. */
    private int ended;
    /** Message for the first worker that failed for good. */
    private String failure;
    private FinalApplicationStatus finalStatus;
    private String finalMessage;
    private boolean unregisterAtEnd = true;
    private final CountDownLatch done = new CountDownLatch(1);

    private volatile boolean registered;
    private volatile boolean unregistered;
    private final AtomicBoolean stagingDeleted = new AtomicBoolean();

    public static void main(String[] args) {
        Log.configureLog4j();
        ApplicationMaster am = null;
        int rc = 0;
        try {
            am = new ApplicationMaster(loadSpec(new File(Launch.AM_SPEC_NAME).toPath()));
            am.run();
        } catch (Throwable t) {
            Log.error("the application master failed", t);
            rc = 1;
            if (am != null) {
                am.crashed(t);
            }
        }
        System.exit(rc);
    }

    private static Spec loadSpec(java.nio.file.Path file) throws IOException {
        return Spec.parse(new String(java.nio.file.Files.readAllBytes(file), java.nio.charset.StandardCharsets.UTF_8));
    }

    /**
     * An AM must outlive a ResourceManager restart or failover, which can take
     * longer than interactive clients are configured to wait for the RM.
     */
    static final long MIN_RM_WAIT_MS = 120_000L;

    ApplicationMaster(Spec spec) throws IOException {
        long rmWait = conf.getLong(YarnConfiguration.RESOURCEMANAGER_CONNECT_MAX_WAIT_MS, 0);
        if (rmWait >= 0 && rmWait < MIN_RM_WAIT_MS) {     // -1 already means "forever"
            conf.setLong(YarnConfiguration.RESOURCEMANAGER_CONNECT_MAX_WAIT_MS, MIN_RM_WAIT_MS);
        }
        byte[] key = UserGroupInformation.getCurrentUser().getCredentials().getSecretKey(Launch.SECRET_ALIAS);
        if (key == null) {
            throw new IOException("the control channel's TLS material is missing from the AM's YARN credentials");
        }
        tlsMaterial = key;
        // JSSE's start (~0.3 s of class loading) needs nothing from Hadoop:
        // it overlaps the HDFS client's start below.
        controlTls = Background.start(() -> {
            try {
                return Tls.serverContext(key);
            } catch (java.security.GeneralSecurityException e) {
                throw new IOException("cannot set up the control channel's TLS: " + e.getMessage(), e);
            }
        });
        app = new AppSpec(spec.obj("spec"));
        Map<org.apache.hadoop.yarn.api.records.ApplicationAccessType, String> acls = Launch.acls(app);
        workerAcls = acls.isEmpty() ? null : acls;
        Spec res = spec.obj("resources");
        for (AppSpec.Service svc : app.services.values()) {
            serviceResources.put(svc.name, Launch.readResources(res.obj(svc.name)));
            rules.add(svc.name, svc.maxRestarts, svc.depends);
        }
        // The command and its environment variables are in the worker script
        // (Launch.workerScript), which each service has under the same name.
        String logDir = ApplicationConstants.LOG_DIR_EXPANSION_VAR;
        workerCommand = KvAccess.withKvOnPath("/bin/bash " + Launch.WORKER_SCRIPT_NAME
                + " 1>" + logDir + "/stdout 2>" + logDir + "/stderr");   // knit-kv on PATH (issue 14)
        stagingDir = new Path(spec.required("staging_dir"));
        // Opened now (the kill hook has no time for it), beside the RM
        // connection: each starts a Hadoop client of its own (~0.5 s).
        stagingFs = Background.start(() -> stagingDir.getFileSystem(conf));
        stateStore = new StateStore(conf, stagingDir);

        String containerId = System.getenv(Environment.CONTAINER_ID.name());
        attemptId = containerId == null ? null : ContainerId.fromString(containerId).getApplicationAttemptId();
        maxAttempts = Math.min(app.maxAttempts,
                conf.getInt(YarnConfiguration.RM_AM_MAX_ATTEMPTS, YarnConfiguration.DEFAULT_RM_AM_MAX_ATTEMPTS));
        workerTokens = workerTokens();
        TokenRenewer.startIfShipped(conf, () -> {
            try {
                workerTokens = workerTokens();
            } catch (IOException e) {
                Log.warn("could not pass the new delegation tokens to the workers", e);
            }
        });

        // On `yarn application -kill` the NodeManager sends SIGTERM, then
        // SIGKILL 250 ms later: the hook only deletes the staging directory.
        ShutdownHookManager.get().addShutdownHook(() -> {
            if (!unregistered && isLastAttempt()) {
                deleteStaging();
            }
        }, SHUTDOWN_HOOK_PRIORITY);
    }

    private static String[] array(List<String> list) {
        return list.isEmpty() ? null : list.toArray(new String[0]);
    }

    /**
     * A service's container size: memory and vcores, and its other resource
     * types (yarn.io/gpu, ...). YARN refuses a type the cluster does not
     * declare (resource-types.xml) with ResourceNotFoundException.
     */
    private static Resource resourceOf(AppSpec.Service svc, long memory, int vcores) {
        Resource r = Resource.newInstance(memory, vcores);
        for (Map.Entry<String, Long> e : svc.otherResources.entrySet()) {
            r.setResourceValue(e.getKey(), e.getValue());
        }
        return r;
    }

    /**
     * Tokens for the workers: the AM's delegation tokens (needed to localize
     * files on a secure cluster) minus the AMRM token. The secret is a
     * secret key, not a token, so it is not copied.
     */
    private static ByteBuffer workerTokens() throws IOException {
        Credentials mine = UserGroupInformation.getCurrentUser().getCredentials();
        Credentials theirs = new Credentials();
        for (Token<?> t : mine.getAllTokens()) {
            if (!AMRMTokenIdentifier.KIND_NAME.equals(t.getKind())) {
                theirs.addToken(t.getService(), t);
            }
        }
        if (theirs.numberOfTokens() == 0) {
            return null;
        }
        DataOutputBuffer dob = new DataOutputBuffer();
        theirs.writeTokenStorageToStream(dob);
        return ByteBuffer.wrap(dob.getData(), 0, dob.getLength());
    }

    private boolean isLastAttempt() {
        return attemptId == null || attemptId.getAttemptId() >= maxAttempts;
    }

    // ------------------------------------------------------------- lifecycle

    private void run() throws Exception {
        // Listen only on the address YARN knows this node by, not on every interface.
        String host = hostName();
        // knit-kv's files in HDFS (a cache lookup, a small write: ~0.4 s) are
        // needed only by the first launch: they are placed while the control
        // server starts, the AM registers and asks for containers.
        kvFiles = Background.start(() ->
                KvAccess.workerResources(conf, Background.await(stagingFs), stagingDir));
        http = new ControlServer(this, host, tlsMaterial, Background.await(controlTls));
        http.start();
        web = WebUi.start(host, conf, WebUi.App.of(attemptId, app.name, app.queue, conf),
                () -> finishing() ? "FINISHING" : "RUNNING", () -> listContainers().body, http.kvStore());
        amrm = AMRMClientAsync.createAMRMClientAsync(FAST_HEARTBEAT_MS, new RmCallbacks());
        amrm.init(conf);
        amrm.start();
        nm = NMClientAsync.createNMClientAsync(new NmCallbacks());
        nm.init(conf);
        nm.start();
        // At the end the RM kills what is left; stopping each container here would only be slower.
        nm.getClient().cleanupRunningContainersOnStop(false);

        RegisterApplicationMasterResponse reg = amrm.registerApplicationMaster(host, http.port(),
                WebUi.trackingUrl(web, host));
        WebUi.setAcls(web, reg.getApplicationACLs());
        registered = true;
        maxCapability = reg.getMaximumResourceCapability();
        Log.info("registered " + attemptId + "; control server at " + host + ":" + http.port());

        synchronized (this) {
            String tooBig = null;
            long g = 0;
            for (AppSpec.Service svc : app.services.values()) {
                Resource r = resourceOf(svc, svc.memory, svc.vcores);
                groups.put(g, r);
                groupService.put(g, svc.name);
                g++;
                if (tooBig == null && tooBig(r) != null) {
                    tooBig = "service " + svc.name + ": " + tooBig(r);
                }
            }
            nextGroup = g;
            if (tooBig != null) {
                finish(FinalApplicationStatus.FAILED, tooBig, true);
            } else {
                AmState saved = attemptId != null && attemptId.getAttemptId() > 1 ? savedState() : null;
                List<Container> previous = reg.getContainersFromPreviousAttempts();
                if (saved != null) {
                    restore(saved, previous);
                } else {
                    Map<Long, Integer> adopted = new HashMap<>();
                    for (Container c : previous) {
                        adopt(c, -1);
                        adopted.merge(c.getAllocationRequestId(), 1, Integer::sum);
                    }
                    long i = 0;
                    for (AppSpec.Service svc : app.services.values()) {
                        backlogFor(i).fresh += Math.max(0, svc.instances - adopted.getOrDefault(i, 0));
                        i++;
                    }
                }
                observeAll();
                updateHeartbeat();
                saveState();
            }
        }

        addKvFiles();   // an error placing them ends the AM here, through crashed()
        done.await();
        FinalApplicationStatus status;
        String message;
        boolean unregister;
        synchronized (this) {
            status = finalStatus;
            message = finalMessage;
            unregister = unregisterAtEnd;
        }
        if (unregister) {
            Log.info("finishing with " + status + ": " + message);
            amrm.unregisterApplicationMaster(status, message, WebUi.FINAL_TRACKING_URL);
            unregistered = true;
        }
        http.stop();
        WebUi.stop(web);
        stateStore.stop();
        amrm.stop();
        nm.stop();
        if (unregistered || isLastAttempt()) {
            deleteStaging();
        }
    }

    /** After an unexpected error: on the last attempt, fail the app with the reason. */
    private void crashed(Throwable t) {
        if (registered && !unregistered && isLastAttempt()) {
            try {
                amrm.unregisterApplicationMaster(FinalApplicationStatus.FAILED,
                        Diagnostics.head("knit application master error: " + t), WebUi.FINAL_TRACKING_URL);
                unregistered = true;
            } catch (Exception e) {
                Log.warn("could not unregister", e);
            }
        }
        if (unregistered || isLastAttempt()) {
            deleteStaging();
        }
    }

    private void deleteStaging() {
        if (stagingDeleted.compareAndSet(false, true)) {
            try {
                Background.await(stagingFs).delete(stagingDir, true);
            } catch (Exception e) {
                Log.warn("could not delete " + stagingDir, e);
            }
        }
    }

    /** The name YARN knows this node by (NM_HOST), else the canonical local name. */
    private static String hostName() throws IOException {
        String nmHost = System.getenv(Environment.NM_HOST.name());
        if (nmHost != null && !nmHost.isEmpty()) {
            return nmHost;
        }
        return InetAddress.getLocalHost().getCanonicalHostName();
    }

    /** Records the final status; the main thread then unregisters. Idempotent. */
    private synchronized void finish(FinalApplicationStatus status, String message, boolean unregister) {
        if (finalStatus != null || !unregisterAtEnd) {
            return;
        }
        finalStatus = status;
        finalMessage = cut(message);   // messages are built head first: see Diagnostics
        unregisterAtEnd = unregister;
        done.countDown();
    }

    private synchronized boolean finishing() {
        return done.getCount() == 0;
    }

    /** Applies {@link ServiceRules#finish}: the application ends when every service's containers ended. */
    private synchronized void checkFinish() {
        if (finishing()) {
            return;
        }
        dropBlocked();
        // keep_alive (a Dask cluster) outlives containers that ended well, but
        // not a permanent failure: that must reach the user as FAILED.
        ServiceRules.Outcome o = rules.finish(app.keepAlive, pendingCount(), activeCount(), ended);
        if (o == ServiceRules.Outcome.SUCCEEDED) {
            finish(FinalApplicationStatus.SUCCEEDED, "all containers of every service succeeded", true);
        } else if (o == ServiceRules.Outcome.FAILED) {
            finish(FinalApplicationStatus.FAILED, failure, true);
        }
    }

    /** Forgets the wanted containers of services that can never start (a dependency failed for good). */
    private synchronized void dropBlocked() {
        for (Map.Entry<Long, Backlog> e : new ArrayList<>(backlog.entrySet())) {
            String svc = groupService.get(e.getKey());
            if (e.getValue().size() > 0 && rules.blocked(svc)) {
                Log.info("service " + svc + " cannot start: a service it depends on failed");
                backlog.remove(e.getKey());
            }
        }
    }

    /** Lets the rules see how many containers of each service run (for depends). */
    private synchronized void observeAll() {
        for (String svc : rules.names()) {
            boolean was = rules.get(svc).satisfied;
            rules.observe(svc, runningCount(svc), pendingCountOf(svc) + activeCountOf(svc));
            if (!was && rules.get(svc).satisfied) {
                Log.info("every instance of service " + svc + " runs");
            }
        }
    }

    /** Containers of the service whose process runs (the NodeManager says so; see onStarted). */
    private synchronized int runningCount(String svc) {
        int n = 0;
        for (Worker w : workers.values()) {
            if (w.state == State.RUNNING && w.launched && w.service.equals(svc)) {
                n++;
            }
        }
        return n;
    }

    private synchronized int activeCountOf(String svc) {
        int n = 0;
        for (Worker w : workers.values()) {
            if (w.isActive() && w.service.equals(svc)) {
                n++;
            }
        }
        return n;
    }

    private synchronized int pendingCountOf(String svc) {
        int n = 0;
        for (Long g : groups.keySet()) {
            if (svc.equals(groupService.get(g))) {
                n += pendingCount(g);
            }
        }
        return n;
    }

    // ------------------------------------------------------------- requests

    /** Wants one more container of {@code group}; the heartbeat asks the RM for it. */
    private synchronized void request(long group, Want want) {
        Backlog b = backlogFor(group);
        if (want.restarts == 0 && want.instance < 0) {
            b.fresh++;
        } else {
            b.replacements.add(want);
        }
    }

    private synchronized Backlog backlogFor(long group) {
        return backlog.computeIfAbsent(group, g -> new Backlog());
    }

    /**
     * Called from the AMRM heartbeat (through getProgress): hands at most
     * {@link #REQUEST_BATCH} wanted containers to AMRMClient, keeping at most
     * {@link #MAX_OUTSTANDING} outstanding. Bounded work, so the lock is
     * held only briefly whatever the user asked for.
     */
    private synchronized void issueBacklog() {
        if (finishing()) {
            return;
        }
        int budget = Math.min(REQUEST_BATCH, MAX_OUTSTANDING - issuedCount());
        List<String> names = rules.names();
        for (Map.Entry<Long, Backlog> e : backlog.entrySet()) {
            Backlog b = e.getValue();
            String name = groupService.get(e.getKey());
            if (b.size() == 0 || !rules.ready(name)) {
                continue;   // depends: asked for once its dependencies all run
            }
            AppSpec.Service svc = app.services.get(name);
            while (budget > 0 && b.size() > 0) {
                Want want = b.take();
                // One priority per service: AMRMClient refuses requests of one
                // priority that disagree on a location's relax_locality.
                ContainerRequest req = ContainerRequest.newBuilder()
                        .capability(groups.get(e.getKey()))
                        .nodes(array(svc.nodes))
                        .racks(array(svc.racks))
                        .relaxLocality(svc.relaxLocality)
                        .nodeLabelsExpression(svc.nodeLabel)
                        .priority(Priority.newInstance(names.indexOf(name)))
                        .allocationRequestId(e.getKey())
                        .build();
                amrm.addContainerRequest(req);
                pending.computeIfAbsent(e.getKey(), g -> new ArrayDeque<>()).add(new Pending(req, want));
                budget--;
            }
        }
    }

    private synchronized int issuedCount() {
        int n = 0;
        for (Deque<Pending> q : pending.values()) {
            n += q.size();
        }
        return n;
    }

    /** Containers wanted and not yet granted: asked of the RM, or still to be asked. */
    private synchronized int pendingCount() {
        int n = issuedCount();
        for (Backlog b : backlog.values()) {
            n += b.size();
        }
        return n;
    }

    private synchronized int pendingCount(long group) {
        Deque<Pending> q = pending.get(group);
        Backlog b = backlog.get(group);
        return (q == null ? 0 : q.size()) + (b == null ? 0 : b.size());
    }

    private synchronized int activeCount() {
        int n = 0;
        for (Worker w : workers.values()) {
            if (w.isActive()) {
                n++;
            }
        }
        return n;
    }

    /** Poll the RM quickly while containers are wanted, slowly otherwise. */
    private synchronized void updateHeartbeat() {
        amrm.setHeartbeatInterval(pendingCount() > 0 || !unconfirmed.isEmpty() ? FAST_HEARTBEAT_MS
                : SLOW_HEARTBEAT_MS);
    }

    private String tooBig(Resource r) {
        if (maxCapability != null && (r.getMemorySize() > maxCapability.getMemorySize()
                || r.getVirtualCores() > maxCapability.getVirtualCores())) {
            return "requested containers of " + r.getMemorySize() + " MB and " + r.getVirtualCores()
                    + " vcores, but the cluster's maximum is " + maxCapability.getMemorySize() + " MB and "
                    + maxCapability.getVirtualCores() + " vcores";
        }
        return null;
    }

    /**
     * A new attempt with the state the last one saved: the groups (service,
     * sizes, tags), each service's restarts and depends state, the
     * containers that kept running (adopted with their instance index,
     * unless the user had removed them) and, for each group, requests for
     * what its target still lacks.
     */
    private synchronized void restore(AmState saved, List<Container> previous) {
        for (Map.Entry<Long, AmState.Group> e : saved.groups.entrySet()) {
            AmState.Group g = e.getValue();
            AppSpec.Service svc = app.services.get(g.service);
            if (svc == null) {
                continue;
            }
            groups.put(e.getKey(), resourceOf(svc, g.memory, g.vcores));
            groupService.put(e.getKey(), g.service);
            if (g.tag != null) {
                groupTags.put(e.getKey(), g.tag);
            }
        }
        for (Map.Entry<String, AmState.ServiceCounters> e : saved.services.entrySet()) {
            if (rules.has(e.getKey())) {
                ServiceRules.State st = rules.get(e.getKey());
                st.restarts = e.getValue().restarts;
                st.satisfied = e.getValue().satisfied;
                st.failed = e.getValue().failed;
            }
        }
        nextGroup = Math.max(nextGroup, saved.nextGroup);
        ended = saved.ended;
        failure = saved.failure;
        removedIds.addAll(saved.removed);
        Map<Long, Integer> adopted = new HashMap<>();
        for (Container c : previous) {
            if (removedIds.contains(c.getId().toString())) {
                Log.info("releasing " + c.getId() + ": removed before the AM restarted");
                amrm.releaseAssignedContainer(c.getId());
                continue;
            }
            Integer index = saved.instances.get(c.getId().toString());
            adopt(c, index == null ? -1 : index);
            adopted.merge(c.getAllocationRequestId(), 1, Integer::sum);
        }
        for (Map.Entry<Long, AmState.Group> e : saved.groups.entrySet()) {
            int missing = e.getValue().target - adopted.getOrDefault(e.getKey(), 0);
            if (missing > 0 && groups.containsKey(e.getKey())) {
                backlogFor(e.getKey()).fresh += missing;
            }
        }
        Log.info("restored the state of the previous attempt: " + saved.groups.size() + " groups, "
                + previous.size() + " containers kept");
    }

    /** What the previous attempt saved; null (start afresh) if it cannot be read. */
    private AmState savedState() {
        try {
            return stateStore.read();
        } catch (IOException | RuntimeException e) {
            Log.warn("cannot read the previous attempt's state; starting afresh", e);
            return null;
        }
    }

    /**
     * Whether the running container {@code containerId} belongs to a service
     * whose spec says {@code control: true} (a driver that scales its own
     * application, as {@code knit dask submit} runs).
     */
    synchronized boolean mayControl(String containerId) {
        Worker w;
        try {
            w = workers.get(ContainerId.fromString(containerId));
        } catch (IllegalArgumentException e) {
            return false;
        }
        AppSpec.Service svc = w == null || !w.isActive() ? null : app.services.get(w.service);
        return svc != null && svc.control;
    }

    /**
     * Blocks (never under the AM's lock) until the changes made so far are
     * saved, so that a reply to a control request means the change survives
     * an AM restart. A slow or failing HDFS delays the reply by at most 10 s.
     */
    void awaitStateSaved() {
        try {
            if (!stateStore.awaitSaved(10_000)) {
                Log.warn("the AM state is not saved yet; a new attempt may not see the latest change");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Hands the current state to the store (written off the lock). */
    private synchronized void saveState() {
        AmState s = new AmState();
        for (Map.Entry<Long, Resource> e : groups.entrySet()) {
            s.groups.put(e.getKey(), new AmState.Group(groupService.get(e.getKey()), e.getValue().getMemorySize(),
                    e.getValue().getVirtualCores(), groupTags.get(e.getKey()), pendingCount(e.getKey())));
        }
        for (Worker w : workers.values()) {
            if (w.isActive()) {
                s.groups.get(w.group).target++;
                s.instances.put(w.id.toString(), w.instance);
            }
        }
        for (String name : rules.names()) {
            ServiceRules.State st = rules.get(name);
            AmState.ServiceCounters c = new AmState.ServiceCounters();
            c.restarts = st.restarts;
            c.satisfied = st.satisfied;
            c.failed = st.failed;
            s.services.put(name, c);
        }
        s.removed.addAll(removedIds);
        s.nextGroup = nextGroup;
        s.ended = ended;
        s.failure = failure;
        stateStore.save(s.toBytes());
    }

    /**
     * A container of a previous attempt that kept running: take it over as
     * is, with its instance index ({@code index} < 0: unknown, a new one).
     */
    private synchronized void adopt(Container c, int index) {
        long group = c.getAllocationRequestId();
        String service = groupService.get(group);
        if (service == null) {
            // A group the saved state does not know: the first service's.
            service = rules.names().get(0);
            groupService.put(group, service);
        }
        groups.putIfAbsent(group, c.getResource());
        nextGroup = Math.max(nextGroup, group + 1);
        IndexPool pool = rules.get(service).indices;
        if (index < 0 || pool.inUse(index)) {
            index = pool.take();
        } else {
            pool.use(index);
        }
        Worker adopted = new Worker(c, group, service, index, 0, false, State.RUNNING);
        adopted.launched = true;
        workers.put(c.getId(), adopted);
        Log.info("adopted " + c.getId() + " (" + service + " #" + index + ") on " + c.getNodeId()
                + " from a previous attempt");
    }

    // ------------------------------------------------------------- RM events

    /** Adds knit-kv's files to every service's resources, once they are placed. */
    private void addKvFiles() throws IOException {
        Map<String, LocalResource> files = Background.await(kvFiles);
        synchronized (this) {
            if (!kvMerged) {
                for (Map<String, LocalResource> r : serviceResources.values()) {
                    r.putAll(files);
                }
                kvMerged = true;
            }
        }
    }

    private synchronized void onAllocated(List<Container> containers) {
        for (Container c : containers) {
            Deque<Pending> q = pending.get(c.getAllocationRequestId());
            Pending p = q == null ? null : q.poll();
            if (p == null || finishing()) {
                Log.info("releasing surplus container " + c.getId());
                amrm.releaseAssignedContainer(c.getId());
                continue;
            }
            // AMRMClient keeps asking for a request until it is removed explicitly.
            amrm.removeContainerRequest(p.request);
            String service = groupService.get(c.getAllocationRequestId());
            // A replacement keeps the index of the container it replaces.
            int index = p.want.instance >= 0 ? p.want.instance : rules.get(service).indices.take();
            Worker w = new Worker(c, c.getAllocationRequestId(), service, index, p.want.restarts, true,
                    State.ALLOCATED);
            workers.put(c.getId(), w);
            Log.info("allocated " + c.getId() + " (" + service + " #" + index + ") on " + c.getNodeId()
                    + ", launching");
            ContainerLaunchContext ctx = ContainerLaunchContext.newInstance(serviceResources.get(service),
                    envFor(w),
                    Collections.singletonList(workerCommand), null,
                    http.kvTokens(c.getId(), workerTokens),   // + its knit-kv credential (issue 14)
                    workerAcls);
            nm.startContainerAsync(c, ctx);
        }
        updateHeartbeat();
    }

    private synchronized void onCompleted(List<ContainerStatus> statuses) {
        for (ContainerStatus s : statuses) {
            // Gone for good: a later attempt cannot meet it, so no need to remember it.
            removedIds.remove(s.getContainerId().toString());
            http.kvStore().containerEnded(s.getContainerId().toString());   // its keys go (issue 14)
            Worker w = workers.get(s.getContainerId());
            if (w == null) {
                continue;   // a surplus container we released
            }
            if (w.exitStatus == null) {
                w.exitStatus = s.getExitStatus();
            }
            if (w.isTerminal()) {
                // Removed by the user, or already handled (launch failure): just record.
                w.addDiagnostics(s.getDiagnostics());
                continue;
            }
            w.addDiagnostics(s.getDiagnostics());
            if (lostThroughNoFaultOfItsOwn(s.getExitStatus()) || unusableNodes.contains(w.node)) {
                replaceLost(w);
            } else {
                workerEnded(w, s.getExitStatus() == 0);
            }
        }
        updateHeartbeat();
        saveState();
        checkFinish();
    }

    /**
     * Exit statuses YARN gives containers that the cluster took away: a lost
     * or decommissioned node (ABORTED), failed disks, preemption, or the RM
     * killing it.  The command did nothing wrong, so these are replaced
     * without using the restart budget.
     */
    static boolean lostThroughNoFaultOfItsOwn(int exitStatus) {
        return exitStatus == ContainerExitStatus.ABORTED
                || exitStatus == ContainerExitStatus.DISKS_FAILED
                || exitStatus == ContainerExitStatus.PREEMPTED
                || exitStatus == ContainerExitStatus.KILLED_BY_RESOURCEMANAGER
                || exitStatus == ContainerExitStatus.KILLED_BY_CONTAINER_SCHEDULER
                // A NodeManager that shuts down kills its containers before
                // their exit code is known and reports -1 for them.
                || exitStatus == -1;
    }

    /** Nodes the RM reported lost, shut down, decommissioned or unhealthy. */
    private final java.util.Set<String> unusableNodes = new java.util.HashSet<>();

    private synchronized void nodesUpdated(List<NodeReport> reports) {
        for (NodeReport r : reports) {
            String node = r.getNodeId().toString();
            if (r.getNodeState().isUnusable()) {
                unusableNodes.add(node);
                Log.info("node " + node + " is " + r.getNodeState());
            } else {
                unusableNodes.remove(node);
            }
        }
    }

    private synchronized void replaceLost(Worker w) {
        w.state = State.KILLED;
        if (finishing()) {
            rules.get(w.service).indices.release(w.instance);
            return;
        }
        Log.info(w.id + " was lost (exit status " + w.exitStatus + "), requesting a replacement");
        request(w.group, new Want(w.restarts, w.instance));
    }

    /** A worker ended by itself: success, or failure then maybe a replacement. */
    private synchronized void workerEnded(Worker w, boolean success) {
        ended++;
        if (success) {
            w.state = State.SUCCEEDED;
            rules.get(w.service).indices.release(w.instance);
            Log.info(w.id + " succeeded");
            return;
        }
        w.state = State.FAILED;
        String what = w.exitStatus != null ? "exited with code " + w.exitStatus : "failed to launch";
        Log.info(w.id + " " + what);
        if (!finishing() && rules.useRestart(w.service)) {
            Log.info("requesting a replacement for " + w.id + " (" + w.service + " #" + w.instance
                    + ", restart " + rules.get(w.service).restarts + " of the service)");
            request(w.group, new Want(w.restarts + 1, w.instance));
        } else {
            rules.get(w.service).indices.release(w.instance);
            rules.get(w.service).failed = true;
            if (failure == null) {
                failure = Diagnostics.failure(w.id.toString(), w.node, w.exitStatus, w.diagnostics);
            }
        }
    }

    // ------------------------------------------------------------- NM events

    private synchronized void onStarted(ContainerId id) {
        Worker w = workers.get(id);
        if (w != null && w.state == State.ALLOCATED) {
            w.state = State.RUNNING;
            Log.info("started " + id);
            if (rules.hasDependents(w.service)) {
                // "Started" means the NodeManager accepted the container; it
                // may still be localizing. depends waits for its process:
                // the NodeManager's RUNNING state.
                unconfirmed.add(w);
            } else {
                w.launched = true;
            }
        }
    }

    /** Started containers of services others depend on, whose process is not known to run yet. */
    private final java.util.Set<Worker> unconfirmed = new java.util.LinkedHashSet<>();
    /** NodeManager status queries per heartbeat at most. */
    private static final int STATUS_BATCH = 50;

    /** From the heartbeat: asks the NodeManagers whether unconfirmed containers run. */
    private synchronized void queryUnconfirmed() {
        int n = 0;
        for (Worker w : unconfirmed) {
            if (n++ >= STATUS_BATCH) {
                break;
            }
            nm.getContainerStatusAsync(w.id, NodeId.fromString(w.node));
        }
    }

    private synchronized void onStatus(ContainerId id, ContainerStatus status) {
        Worker w = workers.get(id);
        if (w == null || !unconfirmed.contains(w)) {
            return;
        }
        // The sub-state tells a process that runs from one still localizing
        // or queued (both are RUNNING in the coarse state since Hadoop 3.1).
        org.apache.hadoop.yarn.api.records.ContainerSubState sub = status.getContainerSubState();
        boolean runs = sub != null ? sub != org.apache.hadoop.yarn.api.records.ContainerSubState.SCHEDULED
                : status.getState() != org.apache.hadoop.yarn.api.records.ContainerState.NEW;
        if (!w.isActive() || runs) {
            unconfirmed.remove(w);
            w.launched = w.isActive();
            Log.info(id + " runs (" + status.getState() + ")");
            observeAll();      // may let services that depend on this one ask for containers
            updateHeartbeat();
            saveState();
        }
    }

    private synchronized void onStartFailed(ContainerId id, Throwable t) {
        Worker w = workers.get(id);
        amrm.releaseAssignedContainer(id);
        if (w == null || w.isTerminal()) {
            return;
        }
        w.addDiagnostics("launch failed: " + t);
        workerEnded(w, false);
        updateHeartbeat();
        saveState();
        checkFinish();
    }

    // ------------------------------------------------------------- control API

    synchronized Reply listContainers() {
        StringBuilder sb = new StringBuilder("{\"containers\": [");
        List<String> items = new ArrayList<>();
        for (Worker w : workers.values()) {
            items.add(w.toJson(groupTags.get(w.group)));
        }
        int listed = 0;
        for (Map.Entry<Long, Deque<Pending>> e : pending.entrySet()) {
            for (Pending p : e.getValue()) {
                if (listed++ < MAX_LISTED_REQUESTS) {
                    items.add(Worker.toJson(null, State.REQUESTED, null, null, null, "", p.want.restarts,
                            groupTags.get(e.getKey()), groupService.get(e.getKey()),
                            p.want.instance >= 0 ? p.want.instance : null));
                }
            }
        }
        for (Map.Entry<Long, Backlog> e : backlog.entrySet()) {
            for (int i = 0; i < e.getValue().size() && listed < MAX_LISTED_REQUESTS; i++, listed++) {
                items.add(Worker.toJson(null, State.REQUESTED, null, null, null, "", 0,
                        groupTags.get(e.getKey()), groupService.get(e.getKey()), null));
            }
        }
        sb.append(String.join(", ", items));
        int pend = pendingCount();
        Map<String, Object> services = new LinkedHashMap<>();
        for (String name : rules.names()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("target", pendingCountOf(name) + activeCountOf(name));
            o.put("running", runningCount(name));
            o.put("restarts", rules.get(name).restarts);
            o.put("waiting_for_depends", !rules.ready(name));
            services.put(name, o);
        }
        sb.append("], \"target\": ").append(pend + activeCount())
                .append(", \"pending\": ").append(pend)
                .append(", \"restarts\": ").append(rules.totalRestarts())
                .append(", \"services\": ").append(Json.write(services))
                .append("}");
        return new Reply(200, sb.toString());
    }

    /** The application spec as submitted, for {@code knit spec}. */
    synchronized Reply spec() {
        return new Reply(200, Json.write(app.raw));
    }

    /**
     * The container's own variables. They pass through YARN's launch script
     * (double quotes), so only values that need no quoting go here: service
     * names are letters, digits, - and _; tags are checked in add.
     */
    private Map<String, String> envFor(Worker w) {
        Map<String, String> env = new HashMap<>();
        env.put("KNIT_SERVICE", w.service);
        env.put("KNIT_INSTANCE", Integer.toString(w.instance));
        env.put("KNIT_APP_ID", attemptId == null ? "" : attemptId.getApplicationId().toString());
        env.put("KNIT_NUM_INSTANCES", Integer.toString(pendingCountOf(w.service) + activeCountOf(w.service)));
        String tag = groupTags.get(w.group);
        if (tag != null) {
            env.put(TAG_ENV, tag);
        }
        return env;
    }

    static final String TAG_ENV = "KNIT_CONTAINER_TAG";

    /** The group of a service's own size (the spec's). */
    private synchronized long baseGroup(String service) {
        return rules.names().indexOf(service);
    }

    synchronized Reply addContainers(String service, int n, Integer memory, Integer vcores, String tag) {
        if (finishing()) {
            return new Reply(409, Json.error("the application is finishing"));
        }
        if (maxCapability == null) {
            return new Reply(503, Json.error("the application master is still registering; try again"));
        }
        if (n < 0) {
            throw new IllegalArgumentException("'n' must not be negative");
        }
        if (service == null || service.isEmpty()) {
            service = rules.names().get(0);
        }
        rules.get(service);     // unknown service: 400 naming the services
        AppSpec.Service svc = app.services.get(service);
        long group = baseGroup(service);
        Resource size = groups.get(group);
        if (memory != null || vcores != null) {
            size = resourceOf(svc, memory != null ? memory : svc.memory, vcores != null ? vcores : svc.vcores);
            if (size.getMemorySize() < 1 || size.getVirtualCores() < 1) {
                throw new IllegalArgumentException("memory and vcores must be at least 1");
            }
            String tooBig = tooBig(size);
            if (tooBig != null) {
                throw new IllegalArgumentException(tooBig);
            }
        }
        String refused = beyondCapacity(n, size);
        if (refused != null) {
            throw new IllegalArgumentException(refused);
        }
        if (memory != null || vcores != null) {
            group = groupFor(service, size);
        }
        if (tag != null && !tag.isEmpty()) {
            if (!tag.matches("[A-Za-z0-9_.:-]{1,200}")) {
                throw new IllegalArgumentException("a tag may hold only letters, digits and _.:-");
            }
            // A tagged request gets a group of its own, so that its containers
            // (and their replacements) can be told apart and removed together.
            long tagged = nextGroup++;
            groups.put(tagged, groups.get(group));
            groupService.put(tagged, service);
            groupTags.put(tagged, tag);
            group = tagged;
        }
        backlogFor(group).fresh += n;
        updateHeartbeat();
        saveState();
        Log.info("requested " + n + " more containers of service " + service);
        return new Reply(200, "{\"requested\": " + n + ", \"service\": " + Json.str(service) + "}");
    }

    /**
     * Sets the number of containers of one service: more are requested at
     * its own size; fewer cancels requests not yet granted first (newest
     * first), then stops the running containers of highest index.
     */
    synchronized Reply scale(String service, int n) {
        if (n < 0) {
            throw new IllegalArgumentException("'n' must not be negative");
        }
        if (service == null || service.isEmpty()) {
            service = rules.names().get(0);
        }
        rules.get(service);
        int current = pendingCountOf(service) + activeCountOf(service);
        if (n > current) {
            Reply r = addContainers(service, n - current, null, null, null);
            if (r.code != 200) {
                return r;
            }
        }
        int extra = current - n;
        for (Long g : new ArrayList<>(groups.keySet())) {
            if (extra <= 0 || !service.equals(groupService.get(g))) {
                continue;
            }
            Backlog b = backlog.get(g);
            while (extra > 0 && b != null && b.fresh > 0) {
                b.fresh--;
                extra--;
            }
            while (extra > 0 && b != null && !b.replacements.isEmpty()) {
                Want w = b.replacements.pollLast();
                if (w.instance >= 0) {
                    rules.get(service).indices.release(w.instance);
                }
                extra--;
            }
            Deque<Pending> q = pending.get(g);
            while (extra > 0 && q != null && !q.isEmpty()) {
                Pending p = q.pollLast();
                amrm.removeContainerRequest(p.request);
                if (p.want.instance >= 0) {
                    rules.get(service).indices.release(p.want.instance);
                }
                extra--;
            }
        }
        if (extra > 0) {
            List<Worker> active = new ArrayList<>();
            for (Worker w : workers.values()) {
                if (w.isActive() && w.service.equals(service)) {
                    active.add(w);
                }
            }
            active.sort((a, b) -> Integer.compare(b.instance, a.instance));
            for (Worker w : active.subList(0, Math.min(extra, active.size()))) {
                removeContainer(w.id.toString());
            }
        }
        updateHeartbeat();
        saveState();
        Log.info("scaled service " + service + " from " + current + " to " + n + " containers");
        return new Reply(200, "{\"service\": " + Json.str(service) + ", \"from\": " + current
                + ", \"to\": " + n + "}");
    }

    /**
     * Null when {@code n} more containers of {@code size} fit in what the
     * cluster could ever hold (see {@link Capacity}), else why not.
     */
    private synchronized String beyondCapacity(int n, Resource size) {
        long wantedMemory = 0;
        long wantedVcores = 0;
        long usedMemory = 0;
        long usedVcores = 0;
        for (Worker w : workers.values()) {
            if (w.isActive()) {
                Resource r = groups.get(w.group);
                usedMemory += r.getMemorySize();
                usedVcores += r.getVirtualCores();
            }
        }
        wantedMemory += usedMemory;
        wantedVcores += usedVcores;
        for (Long g : groups.keySet()) {
            int p = pendingCount(g);
            wantedMemory += p * groups.get(g).getMemorySize();
            wantedVcores += (long) p * groups.get(g).getVirtualCores();
        }
        Resource headroom = amrm.getAvailableResources();
        long limit = Capacity.containers(amrm.getClusterNodeCount(),
                maxCapability.getMemorySize(), maxCapability.getVirtualCores(),
                usedMemory + (headroom == null ? 0 : headroom.getMemorySize()),
                usedVcores + (headroom == null ? 0 : headroom.getVirtualCores()),
                size.getMemorySize(), size.getVirtualCores());
        // What is already wanted, counted in containers of this size.
        long wanted = Math.max(ceilDiv(wantedMemory, size.getMemorySize()),
                ceilDiv(wantedVcores, size.getVirtualCores()));
        return Capacity.refusal(n, wanted, limit, size.getMemorySize(), size.getVirtualCores());
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** Untagged requests of one service with the same resources share an allocationRequestId. */
    private synchronized long groupFor(String service, Resource r) {
        for (Map.Entry<Long, Resource> e : groups.entrySet()) {
            if (e.getValue().equals(r) && service.equals(groupService.get(e.getKey()))
                    && !groupTags.containsKey(e.getKey())) {
                return e.getKey();
            }
        }
        long g = nextGroup++;
        groups.put(g, r);
        groupService.put(g, service);
        return g;
    }

    synchronized Reply removeContainer(String idText) {
        Worker w = null;
        try {
            w = workers.get(ContainerId.fromString(idText));
        } catch (IllegalArgumentException e) {
            // not a container id: unknown
        }
        if (w == null) {
            return new Reply(404, Json.error("unknown container " + idText));
        }
        if (w.isTerminal()) {
            return new Reply(409, Json.error("container " + idText + " already ended (" + w.state + ")"));
        }
        if (w.state == State.RUNNING && w.launchedHere) {
            w.state = State.KILLED;
            nm.stopContainerAsync(w.id, NodeId.fromString(w.node));
        } else {
            // Still launching, or adopted (our NMClient never started it):
            // releasing it makes the RM kill it.
            w.state = w.state == State.ALLOCATED ? State.RELEASED : State.KILLED;
            amrm.releaseAssignedContainer(w.id);
        }
        // A removal never ends the application: with no workers left it
        // waits for more (add) or for a kill / shutdown.
        rules.get(w.service).indices.release(w.instance);
        removedIds.add(w.id.toString());
        saveState();
        Log.info("removed " + w.id + " on request");
        return new Reply(200, "{\"removed\": " + Json.str(w.id.toString()) + "}");
    }

    /** Removes every container, running or still requested, added with {@code tag}. */
    synchronized Reply removeTagged(String tag) {
        List<String> removed = new ArrayList<>();
        int cancelled = 0;
        for (Map.Entry<Long, String> g : groupTags.entrySet()) {
            if (!g.getValue().equals(tag)) {
                continue;
            }
            Deque<Pending> q = pending.remove(g.getKey());
            while (q != null && !q.isEmpty()) {
                amrm.removeContainerRequest(q.poll().request);
                cancelled++;
            }
            Backlog b = backlog.remove(g.getKey());
            cancelled += b == null ? 0 : b.size();
            for (Worker w : new ArrayList<>(workers.values())) {
                if (w.group == g.getKey() && !w.isTerminal()) {
                    removeContainer(w.id.toString());
                    removed.add(Json.str(w.id.toString()));
                }
            }
        }
        if (removed.isEmpty() && cancelled == 0) {
            return new Reply(404, Json.error("no container or request with tag " + tag));
        }
        updateHeartbeat();
        saveState();
        return new Reply(200, "{\"removed\": [" + String.join(", ", removed) + "], \"cancelled\": "
                + cancelled + "}");
    }

    synchronized Reply shutdownRequested(String statusText, String message) {
        FinalApplicationStatus status;
        try {
            status = FinalApplicationStatus.valueOf(statusText.trim().toUpperCase());
        } catch (IllegalArgumentException e) {
            status = null;
        }
        if (status != FinalApplicationStatus.SUCCEEDED && status != FinalApplicationStatus.FAILED
                && status != FinalApplicationStatus.KILLED) {
            throw new IllegalArgumentException("status must be SUCCEEDED, FAILED or KILLED, got '"
                    + statusText + "'");
        }
        if (finishing()) {
            return new Reply(200, "{\"status\": " + Json.str(String.valueOf(finalStatus)) + "}");
        }
        final FinalApplicationStatus chosen = status;
        final String why = message == null || message.isEmpty() ? "shutdown requested" : message;
        // Finish only after the answer is out: the main thread exits right after unregistering.
        return new Reply(200, "{\"status\": " + Json.str(chosen.name()) + "}",
                () -> finish(chosen, why, true));
    }

    private synchronized float progress() {
        int total = ended + activeCount() + pendingCount();
        return total == 0 ? 0f : Math.min(1f, (float) ended / total);
    }

    /** At most {@link #DIAGNOSTICS_MAX} chars, keeping the head. */
    private static String cut(String s) {
        if (s == null) {
            return "";
        }
        return s.length() <= DIAGNOSTICS_MAX ? s : s.substring(0, DIAGNOSTICS_MAX) + "...";
    }

    // ------------------------------------------------------------- callbacks

    private final class RmCallbacks extends AMRMClientAsync.AbstractCallbackHandler {
        @Override
        public void onContainersCompleted(List<ContainerStatus> statuses) {
            onCompleted(statuses);
        }

        @Override
        public void onContainersAllocated(List<Container> containers) {
            try {
                addKvFiles();       // waits (outside the lock) only before the first launch
            } catch (IOException e) {
                Log.warn("knit-kv's files could not be placed", e);   // run() fails the AM with it
                return;
            }
            onAllocated(containers);
        }

        @Override
        public void onContainersUpdated(List<UpdatedContainer> containers) {
        }

        @Override
        public void onShutdownRequest() {
            // The RM no longer considers this attempt live: leave without unregistering.
            Log.warn("the ResourceManager asked this attempt to shut down");
            finish(FinalApplicationStatus.FAILED, "shutdown requested by the ResourceManager", false);
        }

        @Override
        public void onNodesUpdated(List<NodeReport> updatedNodes) {
            nodesUpdated(updatedNodes);
        }

        @Override
        public float getProgress() {
            // AMRMClientAsync asks for the progress once per heartbeat: the
            // moment to hand it the next batch of container requests.
            issueBacklog();
            queryUnconfirmed();
            return progress();
        }

        @Override
        public void onError(Throwable e) {
            // The heartbeat thread has stopped: nothing more will happen.
            Log.error("error talking to the ResourceManager", e);
            finish(FinalApplicationStatus.FAILED, "knit application master: " + e, true);
        }
    }

    private final class NmCallbacks extends NMClientAsync.AbstractCallbackHandler {
        @Override
        public void onContainerStarted(ContainerId id, Map<String, ByteBuffer> serviceResponse) {
            onStarted(id);
        }

        @Override
        public void onContainerStatusReceived(ContainerId id, ContainerStatus status) {
            onStatus(id, status);
        }

        @Override
        public void onContainerStopped(ContainerId id) {
        }

        @Override
        public void onStartContainerError(ContainerId id, Throwable t) {
            Log.warn("could not launch " + id, t);
            onStartFailed(id, t);
        }

        @Override
        public void onContainerResourceIncreased(ContainerId id, Resource resource) {
        }

        @Override
        public void onContainerResourceUpdated(ContainerId id, Resource resource) {
        }

        @Override
        public void onGetContainerStatusError(ContainerId id, Throwable t) {
        }

        @Override
        public void onIncreaseContainerResourceError(ContainerId id, Throwable t) {
        }

        @Override
        public void onUpdateContainerResourceError(ContainerId id, Throwable t) {
        }

        @Override
        public void onStopContainerError(ContainerId id, Throwable t) {
            Log.warn("could not stop " + id + "; asking the ResourceManager instead", t);
            amrm.releaseAssignedContainer(id);
        }
    }
}
