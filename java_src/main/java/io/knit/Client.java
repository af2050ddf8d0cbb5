package io.knit;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.DataOutputBuffer;
import org.apache.hadoop.security.AccessControlException;
import org.apache.hadoop.security.Credentials;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.yarn.api.ApplicationConstants;
import org.apache.hadoop.yarn.api.ApplicationConstants.Environment;
import org.apache.hadoop.yarn.api.records.ApplicationAccessType;
import org.apache.hadoop.yarn.api.records.ApplicationId;
import org.apache.hadoop.yarn.api.records.ApplicationSubmissionContext;
import org.apache.hadoop.yarn.api.records.ApplicationTimeoutType;
import org.apache.hadoop.yarn.api.records.ContainerLaunchContext;
import org.apache.hadoop.yarn.api.records.LocalResource;
import org.apache.hadoop.yarn.api.records.Priority;
import org.apache.hadoop.yarn.api.records.Resource;
import org.apache.hadoop.yarn.api.records.YarnApplicationState;
import org.apache.hadoop.yarn.client.api.YarnClient;
import org.apache.hadoop.yarn.client.api.YarnClientApplication;
import org.apache.hadoop.yarn.client.cli.LogsCLI;
import org.apache.hadoop.yarn.client.util.YarnClientUtils;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException;
import org.apache.hadoop.yarn.exceptions.YarnException;

/**
 * The py4j entry point: everything Python asks of Hadoop goes through here.
 * One Client per gateway JVM; it keeps one YarnClient and one FileSystem,
 * built on first use from {@code new YarnConfiguration()} (so from
 * HADOOP_CONF_DIR on the classpath). Exceptions propagate to Python as
 * Py4JJavaError.
 */
public class Client {
    private static final long KILL_WAIT_MS = 10_000;
    /** Longest wait for the RM to accept a submitted application (YarnClient waits forever by default). */
    /** Longest wait for a cancelled submit to stop (an HDFS write in progress ends within its socket timeout). */
    private static final long CANCEL_WAIT_MS = 90_000;
    private static final long SWEEP_BUDGET_MS = 5_000;
    /** A staging dir whose app the RM does not know is removed only after this long. */
    private static final long ORPHAN_AGE_MS = 3_600_000;
    private static final EnumSet<YarnApplicationState> FINAL_STATES = EnumSet.of(
            YarnApplicationState.FINISHED, YarnApplicationState.FAILED, YarnApplicationState.KILLED);

    /** One per distinct (configuration overrides, identity) that Python asked for. */
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    /** Application id to the staging root it was submitted with. */
    private final Map<String, String> stagingRoots = new ConcurrentHashMap<>();
    /** Background chores (the staging sweep), one at a time, never blocking the JVM's exit. */
    private final java.util.concurrent.ExecutorService background =
            java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "knit-background");
                t.setDaemon(true);
                return t;
            });
    private volatile String lastUploadReport = "uploaded_files=0 uploaded_bytes=0 cached_files=0";
    /** Submissions Python has not released yet, by submit id (see {@link Submission}). */
    private final Map<String, Submission> submissions = new ConcurrentHashMap<>();

    public Client() {
    }

    /** Implementation-Version of knit.jar. */
    public String version() {
        return Version.get();
    }

    /** Upload counters of the latest successful submit. */
    public String lastUploadReport() {
        return lastUploadReport;
    }

    /**
     * Connects ahead of the first call, ignoring failures: the call that
     * needs the connection retries it and reports the error to the caller.
     */
    void warmUp() {
        try {
            Session s = session(defaultKey());
            s.run(() -> s.fs.getFileStatus(s.fs.getHomeDirectory().getParent()));
        } catch (Exception | LinkageError e) {
            Log.info("warm-up connection failed (reported on first use): " + e);
        }
    }

    /**
     * Opens (or finds) the session for one Knit object: HADOOP_CONF_DIR plus
     * {@code overrides}, acting as {@code user} (simple authentication), as
     * the Kerberos ticket cache's principal, or as {@code principal} from
     * {@code keytab}. Returns {@code key} (to pass to the other calls),
     * {@code user} (the short name Hadoop acts as) and {@code principal}.
     */
    public Map<String, String> connect(Map<String, String> overrides, String user, String principal,
            String keytab) throws Exception {
        return connect(overrides, user, principal, keytab, null);
    }

    /**
     * As {@link #connect(Map, String, String, String)}, acting as
     * {@code proxyUser} (Hadoop impersonation) when it is not null: the
     * applications, uploads and HDFS paths are that user's.
     */
    public Map<String, String> connect(Map<String, String> overrides, String user, String principal,
            String keytab, String proxyUser) throws Exception {
        Map<String, String> o = overrides == null ? Collections.emptyMap() : new HashMap<>(overrides);
        if (user != null && principal == null && keytab == null && o.isEmpty()) {
            // No overrides: HADOOP_CONF_DIR's security mode, as Hadoop's login
            // (by the warm-up, as a rule) has read it already.
            user = Session.sameAsLogin(user, UserGroupInformation.isSecurityEnabled() ? "kerberos" : "simple",
                    () -> UserGroupInformation.getLoginUser().getShortUserName());
        }
        String key = Session.key(o, user, principal, keytab, proxyUser);
        Session s;
        synchronized (sessions) {
            s = sessions.get(key);
            if (s == null) {
                s = Session.open(o, user, principal, keytab, proxyUser);
                sessions.put(key, s);
            }
        }
        Map<String, String> out = new HashMap<>();
        out.put("key", key);
        out.put("user", s.user());
        out.put("principal", s.ugi.getUserName());
        out.put("security", String.valueOf(UserGroupInformation.isSecurityEnabled()));
        return out;
    }

    /** The session of HADOOP_CONF_DIR alone, as Hadoop's login user (for calls without a key). */
    private String defaultKey() throws Exception {
        return connect(Collections.emptyMap(), null, null, null).get("key");
    }

    private Session session(String key) {
        Session s = sessions.get(key);
        if (s == null) {
            throw new IllegalStateException("no gateway session " + key + " (call connect first)");
        }
        return s;
    }

    /** The value of a Hadoop property as the session sees it (null if unset). */
    public String confValue(String key, String name) {
        return session(key).conf.get(name);
    }

    // ------------------------------------------------------------------ submit

    /** One file.&lt;i&gt; entry of the spec. */
    private static final class FileEntry {
        final String service;
        final String source;
        final String name;
        final boolean cache;

        FileEntry(String service, String source, String name, boolean cache) {
            this.service = service;
            this.source = source;
            this.name = name;
            this.cache = cache;
        }
    }

    /**
     * First step of a submit: a new application id from the ResourceManager,
     * under the caller's submit id. Nothing is submitted yet; Python saves the
     * secret under this id before calling {@link #submit(String)} with
     * {@code submit_id} in the spec.
     */
    public String createApplication(String key, String submitId) throws Exception {
        if (submitId == null || submitId.isEmpty() || submissions.containsKey(submitId)) {
            throw new IllegalArgumentException("a new, non-empty submit id is needed, got '" + submitId + "'");
        }
        Session s = session(key);
        Submission sub = new Submission(submitId, s.run(() -> s.yarn.createApplication()), s);
        submissions.put(submitId, sub);
        return sub.appId();
    }

    /**
     * Cancels a submission that Python has not released: if the application
     * was not submitted yet it never will be; if it was, it is killed. Waits
     * (bounded) for a submit call in progress to stop. Returns the
     * application id if it had been submitted (it is killed now), else null.
     */
    public String cancel(String submitId) {
        Submission sub = submissions.get(submitId);
        if (sub == null) {
            return null;
        }
        sub.cancel();
        if (!sub.awaitIdle(CANCEL_WAIT_MS)) {
            Log.warn("submit " + submitId + " did not stop within " + CANCEL_WAIT_MS + " ms");
        }
        submissions.remove(submitId);
        if (!sub.isSubmitted()) {
            return null;
        }
        killQuietly(sub.session, sub.appId());
        return sub.appId();
    }

    /** Python took charge of the application (start() returned, detached): shutdown leaves it alone. */
    public void release(String submitId) {
        submissions.remove(submitId);
    }

    /**
     * Called when Python has gone (stdin EOF): every submission Python did not
     * release is cancelled, so that a client killed during a submit, or one
     * whose applications were tied to it (detach=False), leaves nothing running.
     */
    void shutdown() {
        for (String id : new ArrayList<>(submissions.keySet())) {
            String killed = cancel(id);
            if (killed != null) {
                Log.info("client gone: killed " + killed);
            }
        }
    }

    /** Upload counters of one submit. */
    public String uploadReport(String submitId) {
        Submission sub = submissions.get(submitId);
        return sub != null && sub.report != null ? sub.report : lastUploadReport;
    }

    /**
     * Submits one application and returns {@code {"app_id": ..., "uploaded_files": N,
     * "uploaded_bytes": N, "cached_files": N}} as JSON. {@code request} is one JSON
     * object: {@code spec}, Python's {@code ApplicationSpec.to_dict()} (see
     * {@link AppSpec}), and {@code submit}, this submit's settings: {@code secret},
     * {@code submit_id}, {@code staging_root}, {@code cache_root}, {@code jar},
     * {@code upload_always}, {@code replication}, {@code sweep_tmp_age_ms} and
     * {@code scripts} (each service's script, after the lines knit runs
     * first, e.g. to enter its environment; the service's {@code env} goes
     * before it, see {@link Launch#workerScript}). With {@code submit_id}
     * (from {@link #createApplication(String)}) the submit can be cancelled;
     * without, a new application is created here.
     *
     * <p>Not synchronized: an upload can take minutes, and kill() or another
     * submit from another Python thread must not wait for it.
     */
    public String submit(String request) throws Exception {
        return submit(defaultKey(), request);
    }

    /** Submits as {@link #submit(String)}, within the session {@code key} (from connect). */
    public String submit(String key, String request) throws Exception {
        Session s = session(key);
        Spec req = Spec.parse(request);
        AppSpec app = new AppSpec(req.obj("spec"));
        Spec settings = req.obj("submit");
        List<FileEntry> files = checkFiles(app, settings);
        String submitId = settings.str("submit_id", null);
        Submission sub;
        if (submitId != null) {
            sub = submissions.get(submitId);
            if (sub == null) {
                throw new IllegalArgumentException("unknown or cancelled submit id '" + submitId
                        + "': call createApplication first");
            }
        } else {
            submitId = "anonymous-" + System.nanoTime();
            sub = new Submission(submitId, s.run(() -> s.yarn.createApplication()), s);
            submissions.put(submitId, sub);
        }
        sub.enter();
        try {
            final Submission run = sub;
            String appId = s.run(() -> submit(s, app, settings, files, run));
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("app_id", appId);
            for (String field : run.report.split(" ")) {
                String[] kv = field.split("=", 2);
                out.put(kv[0], Long.parseLong(kv[1]));
            }
            return Json.write(out);
        } finally {
            sub.exit();
            if (settings.str("submit_id", null) == null) {
                submissions.remove(submitId);
            }
        }
    }

    private String submit(Session s, AppSpec app, Spec settings, List<FileEntry> files, Submission sub)
            throws IOException, YarnException {
        YarnConfiguration conf = s.conf;
        FileSystem fs = s.fs;
        YarnClient yarn = s.yarn;
        String secret = settings.required("secret");
        String jar = settings.str("jar", null) != null ? settings.str("jar", null) : ownJar();
        if (!Uploader.localFile(jar).isFile()) {
            throw new FileNotFoundException("knit jar " + jar + " does not exist");
        }
        Short rep = null;
        if (settings.has("replication")) {
            int r = settings.getInt("replication", 0);
            if (r < 1) {
                throw new IllegalArgumentException("'replication' must be at least 1, got " + r);
            }
            rep = (short) r;
        }
        Map<String, String> scripts = settings.strings("scripts");

        Path stagingRoot = fs.makeQualified(new Path(settings.required("staging_root")));
        Path cacheRoot = settings.str("cache_root", null) != null
                ? fs.makeQualified(new Path(settings.str("cache_root", null)))
                : new Path(stagingRoot.getParent(), "cache");
        ApplicationSubmissionContext ctx = sub.app.getApplicationSubmissionContext();
        ApplicationId appId = ctx.getApplicationId();
        Uploader.mkdirsPrivate(fs, stagingRoot);
        Path appDir = new Path(stagingRoot, appId.toString());
        fs.mkdirs(appDir, Uploader.PRIVATE_DIR);
        fs.setPermission(appDir, Uploader.PRIVATE_DIR);   // mkdirs applied the umask
        try {
            Uploader up = new Uploader(conf, fs, appDir, cacheRoot, settings.getBool("upload_always", false), rep,
                    sub::check);

            // The AM's spec: the application spec as given, plus where each
            // service's resources ended up.
            Map<String, Object> resources = new LinkedHashMap<>();
            Map<String, Uploader.Placed> placed = new HashMap<>();
            for (String service : app.services.keySet()) {
                resources.put(service, new LinkedHashMap<String, Object>());
            }
            for (FileEntry f : files) {
                // A source shared by services is placed once.
                Uploader.Placed p = placed.get(f.source + "\0" + f.cache);
                if (p == null) {
                    p = up.place(f.source, f.cache);
                    placed.put(f.source + "\0" + f.cache, p);
                }
                resource(resources, f.service).put(f.name, Launch.resourceJson(p));
            }
            // YARN writes the command and the environment into
            // launch_container.sh inside double quotes, so quotes and $ in
            // them would be mangled; both go into a script file instead, run
            // as `bash knit-worker.sh` (see Launch.workerScript).
            for (AppSpec.Service svc : app.services.values()) {
                String cmd = scripts.get(svc.name);
                if (cmd == null || cmd.trim().isEmpty()) {
                    throw new IllegalArgumentException("service " + svc.name + " has no script");
                }
                String script = Launch.workerScript(svc.env, cmd);
                Uploader.Placed sp = up.writeStaged("knit-worker-" + svc.name + ".sh",
                        script.getBytes(StandardCharsets.UTF_8));
                resource(resources, svc.name).put(Launch.WORKER_SCRIPT_NAME, Launch.resourceJson(sp));
            }
            Map<String, Object> am = new LinkedHashMap<>();
            am.put("spec", app.raw);
            am.put("staging_dir", appDir.toUri().toString());
            am.put("resources", resources);
            Uploader.Placed amSpec = up.writeStaged(Launch.AM_SPEC_NAME,
                    Json.write(am).getBytes(StandardCharsets.UTF_8));
            Uploader.Placed jarPlaced = up.place(jar, true);

            Map<String, LocalResource> amResources = new LinkedHashMap<>();
            amResources.put(Launch.JAR_NAME, Launch.resource(jarPlaced));
            amResources.put(Launch.AM_SPEC_NAME, Launch.resource(amSpec));

            Map<String, String> amEnv = new HashMap<>();
            amEnv.put(Environment.CLASSPATH.name(), Launch.amClasspath(conf));
            amEnv.put("JDK_JAVA_OPTIONS", Launch.jdkJavaOptions());

            ContainerLaunchContext clc = ContainerLaunchContext.newInstance(amResources, amEnv,
                    Collections.singletonList(amCommand(app.amMemory, s)), null,
                    amTokens(s, app, secret, up), null);
            Map<ApplicationAccessType, String> acls = Launch.acls(app);
            if (!acls.isEmpty()) {
                clc.setApplicationACLs(acls);
            }

            ctx.setApplicationName(app.name);
            ctx.setQueue(app.queue);
            ctx.setPriority(Priority.newInstance(app.priority));
            ctx.setApplicationType("KNIT");
            if (!app.tags.isEmpty()) {
                ctx.setApplicationTags(new HashSet<>(app.tags));
            }
            if (app.lifetime > 0) {
                ctx.setApplicationTimeouts(Collections.singletonMap(ApplicationTimeoutType.LIFETIME, app.lifetime));
            }
            ctx.setResource(Resource.newInstance(app.amMemory, app.amVcores));
            ctx.setMaxAppAttempts(app.maxAttempts);
            // A new AM attempt adopts the running workers instead of losing them.
            ctx.setKeepContainersAcrossApplicationAttempts(true);
            ctx.setAMContainerSpec(clc);

            // The point of no return: a cancel from now on kills the application.
            if (!sub.beginSubmit()) {
                sub.check();
            }
            yarn.submitApplication(ctx);
            if (sub.isCancelled()) {
                killQuietly(s, appId.toString());
                sub.check();
            }
            lastUploadReport = up.report();
            sub.report = lastUploadReport;
            stagingRoots.put(appId.toString(), stagingRoot.toString());
            Log.info("submitted " + appId + " (" + lastUploadReport + ")");
            // Garbage collection of old staging dirs is off the submit path.
            final Path root = stagingRoot;
            final long tmpAge = settings.getLong("sweep_tmp_age_ms", ORPHAN_AGE_MS);
            background.execute(() -> {
                try {
                    s.run(() -> {
                        sweep(s, root);
                        sweepCacheTmp(s, cacheRoot, tmpAge);
                        return null;
                    });
                } catch (Exception e) {
                    Log.warn("could not clean up " + root, e);
                }
            });
            return appId.toString();
        } catch (IOException | YarnException | RuntimeException e) {
            deleteQuietly(fs, appDir);
            throw e;
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> resource(Map<String, Object> resources, String service) {
        return (Map<String, Object>) resources.get(service);
    }

    /**
     * What can be checked before talking to the cluster (Python checked the
     * rest with friendly messages): local files exist and every service's
     * link names are distinct. The environment archive is a cached file
     * linked by its base name.
     */
    private static List<FileEntry> checkFiles(AppSpec app, Spec settings) throws IOException {
        settings.required("staging_root");
        settings.required("secret");
        List<FileEntry> files = new ArrayList<>();
        for (AppSpec.Service svc : app.services.values()) {
            Map<String, String> links = new HashMap<>();
            links.put(Launch.WORKER_SCRIPT_NAME, "knit itself");
            Map<String, String> all = new LinkedHashMap<>(svc.files);
            List<String> cached = new ArrayList<>();
            if (svc.environment != null) {
                String name = Uploader.baseName(svc.environment);
                if (all.containsKey(name)) {
                    throw new IllegalArgumentException("service " + svc.name + ": the environment "
                            + svc.environment + " and a file share the link name '" + name + "'");
                }
                all.put(name, svc.environment);
                cached.add(name);
            }
            for (Map.Entry<String, String> e : all.entrySet()) {
                String source = e.getValue();
                String name = e.getKey();
                if (!Uploader.isRemote(source) && !Uploader.localFile(source).exists()) {
                    throw new FileNotFoundException("service " + svc.name + ": local file "
                            + Uploader.localFile(source).getAbsolutePath() + " does not exist");
                }
                if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..")) {
                    throw new IllegalArgumentException("service " + svc.name + ": bad link name '" + name + "'");
                }
                String clash = links.put(name, source);
                if (clash != null) {
                    throw new IllegalArgumentException("service " + svc.name + ": link name '" + name
                            + "' is already used by " + clash);
                }
                files.add(new FileEntry(svc.name, source, name, cached.contains(name)));
            }
        }
        return files;
    }

    /** The AM command; its heap follows the AM container's size. */
    private static String amCommand(int amMemoryMb, Session s) {
        int xmx = Math.max(64, (int) (amMemoryMb * 0.75));
        String logDir = ApplicationConstants.LOG_DIR_EXPANSION_VAR;
        // An AM that logs in from a keytab (TokenRenewer) needs the realm's
        // krb5.conf. Nodes normally have it in /etc; a client that names its
        // own (-Djava.security.krb5.conf, as the mini cluster does) passes it
        // on, used only where that file exists on the AM's node.
        String krb5 = System.getProperty("java.security.krb5.conf");
        String krb5Opt = s.keytab != null && krb5 != null && krb5.matches("[A-Za-z0-9_./-]+")
                ? " $(test -f " + krb5 + " && echo -Djava.security.krb5.conf=" + krb5 + ")" : "";
        // The AM does little computing: the client compiler and serial GC
        // start it sooner and keep its footprint small.
        return Environment.JAVA_HOME.$$() + "/bin/java -Xmx" + xmx + "m -XX:TieredStopAtLevel=1"
                + " -XX:+UseSerialGC" + krb5Opt + " " + ApplicationMaster.class.getName()
                + " 1>" + logDir + "/AppMaster.stdout 2>" + logDir + "/AppMaster.stderr";
    }

    /**
     * The AM's credentials: the secret (the only way it reaches the AM) and,
     * on a Kerberos cluster, HDFS delegation tokens renewable by the RM.
     */
    private static ByteBuffer amTokens(Session s, AppSpec app, String secret, Uploader up) throws IOException {
        YarnConfiguration conf = s.conf;
        FileSystem fs = s.fs;
        Credentials creds = new Credentials();
        creds.addSecretKey(Launch.SECRET_ALIAS, secret.getBytes(StandardCharsets.UTF_8));
        if (UserGroupInformation.isSecurityEnabled()) {
            String renewer = YarnClientUtils.getRmPrincipal(conf);
            if (renewer == null || renewer.isEmpty()) {
                throw new IOException("Kerberos is enabled but yarn.resourcemanager.principal is not set:"
                        + " cannot get delegation tokens for the application");
            }
            fs.addDelegationTokens(renewer, creds);
            for (FileSystem other : up.remoteFileSystems) {
                other.addDelegationTokens(renewer, creds);
            }
            for (String uri : app.fileSystems) {
                // Filesystems the application reads beyond the default one
                // and its files' (Spark's spark.yarn.access.hadoopFileSystems).
                new Path(uri).getFileSystem(conf).addDelegationTokens(renewer, creds);
            }
            if (s.keytab != null) {
                // Logged in from a keytab: the AM gets it too, to fetch new
                // tokens past their max lifetime (see TokenRenewer).
                TokenRenewer.ship(creds, s.principal, s.keytab);
            }
        }
        DataOutputBuffer dob = new DataOutputBuffer();
        creds.writeTokenStorageToStream(dob);
        return ByteBuffer.wrap(dob.getData(), 0, dob.getLength());
    }

    /** The jar this class was loaded from: the default for the 'jar' key. */
    private static String ownJar() {
        try {
            return new File(Client.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getPath();
        } catch (Exception e) {
            throw new IllegalArgumentException("the application spec has no 'jar'", e);
        }
    }

    /**
     * Deletes staging dirs of applications that have ended (their AM was
     * killed before it could clean up). Best effort, bounded in time: a
     * submit never fails because of it.
     */
    private void sweep(Session s, Path stagingRoot) {
        FileSystem fs = s.fs;
        YarnClient yarn = s.yarn;
        long deadline = System.currentTimeMillis() + SWEEP_BUDGET_MS;
        try {
            if (!fs.exists(stagingRoot)) {
                return;
            }
            for (FileStatus st : fs.listStatus(stagingRoot)) {
                if (System.currentTimeMillis() > deadline) {
                    return;
                }
                if (!st.isDirectory()) {
                    continue;
                }
                ApplicationId id;
                try {
                    id = ApplicationId.fromString(st.getPath().getName());
                } catch (IllegalArgumentException e) {
                    continue;
                }
                boolean ended;
                try {
                    ended = FINAL_STATES.contains(yarn.getApplicationReport(id).getYarnApplicationState());
                } catch (ApplicationNotFoundException e) {
                    // Unknown to the RM: created but not yet submitted (maybe by
                    // another client right now), or forgotten. Wait before deleting.
                    ended = System.currentTimeMillis() - st.getModificationTime() > ORPHAN_AGE_MS;
                }
                if (ended) {
                    fs.delete(st.getPath(), true);
                    Log.info("removed staging directory of ended application " + id);
                }
            }
        } catch (Exception e) {
            Log.warn("could not clean up " + stagingRoot, e);
        }
    }

    /**
     * Removes partial uploads (".name.random.tmp" files in cache entries)
     * older than ageMs: what an upload interrupted by a dead JVM leaves.
     * Best effort, bounded in time.
     */
    private void sweepCacheTmp(Session s, Path cacheRoot, long ageMs) {
        FileSystem fs = s.fs;
        long deadline = System.currentTimeMillis() + SWEEP_BUDGET_MS;
        try {
            if (!fs.exists(cacheRoot)) {
                return;
            }
            for (FileStatus dir : fs.listStatus(cacheRoot)) {
                if (System.currentTimeMillis() > deadline) {
                    return;
                }
                if (!dir.isDirectory()) {
                    continue;
                }
                for (FileStatus f : fs.listStatus(dir.getPath())) {
                    if (isPartial(f) && System.currentTimeMillis() - f.getModificationTime() > ageMs) {
                        fs.delete(f.getPath(), false);
                        Log.info("removed partial upload " + f.getPath());
                    }
                }
            }
        } catch (Exception e) {
            Log.warn("could not clean up partial uploads in " + cacheRoot, e);
        }
    }

    private static boolean isPartial(FileStatus f) {
        String n = f.getPath().getName();
        return f.isFile() && n.startsWith(".") && n.endsWith(".tmp");
    }

    // ------------------------------------------------------------------- cache

    /**
     * The upload cache as a JSON list, one object per file: hash, name, path,
     * size, modified and accessed (ms; HDFS updates access times only with
     * dfs.namenode.accesstime.precision), partial (an interrupted upload).
     */
    public String cacheEntries(String key, String cacheRoot) throws Exception {
        Session s = session(key);
        return s.run(() -> cacheEntries(s.fs, cacheRoot));
    }

    private static String cacheEntries(FileSystem fs, String cacheRoot) throws IOException {
        Path root = fs.makeQualified(new Path(cacheRoot));
        List<String> items = new ArrayList<>();
        if (fs.exists(root)) {
            for (FileStatus dir : fs.listStatus(root)) {
                if (!dir.isDirectory()) {
                    continue;
                }
                for (FileStatus f : fs.listStatus(dir.getPath())) {
                    items.add("{\"hash\": " + Json.str(dir.getPath().getName())
                            + ", \"name\": " + Json.str(f.getPath().getName())
                            + ", \"path\": " + Json.str(f.getPath().toString())
                            + ", \"size\": " + (f.isFile() ? f.getLen() : fs.getContentSummary(f.getPath()).getLength())
                            + ", \"modified\": " + f.getModificationTime()
                            + ", \"accessed\": " + f.getAccessTime()
                            + ", \"partial\": " + isPartial(f) + "}");
                }
            }
        }
        return "[" + String.join(", ", items) + "]";
    }

    /**
     * Evicts cache files last used (modified or read) more than olderThanMs
     * ago, except those that a running application under stagingRoot still
     * names among its resources (its new containers localize them). Empty
     * entry directories go too. Returns the removed paths as a JSON list.
     */
    public String cleanCache(String key, String cacheRoot, String stagingRoot, long olderThanMs)
            throws Exception {
        Session s = session(key);
        return s.run(() -> cleanCache(s, cacheRoot, stagingRoot, olderThanMs));
    }

    private static String cleanCache(Session s, String cacheRoot, String stagingRoot, long olderThanMs)
            throws IOException, YarnException {
        FileSystem fs = s.fs;
        Path root = fs.makeQualified(new Path(cacheRoot));
        java.util.Set<String> inUse = cacheInUse(s, root, fs.makeQualified(new Path(stagingRoot)));
        long cutoff = System.currentTimeMillis() - olderThanMs;
        List<String> removed = new ArrayList<>();
        if (!fs.exists(root)) {
            return "[]";
        }
        for (FileStatus dir : fs.listStatus(root)) {
            if (!dir.isDirectory() || inUse.contains(dir.getPath().getName())) {
                continue;
            }
            FileStatus[] files = fs.listStatus(dir.getPath());
            int left = files.length;
            for (FileStatus f : files) {
                if (Math.max(f.getModificationTime(), f.getAccessTime()) <= cutoff) {
                    fs.delete(f.getPath(), true);
                    removed.add(Json.str(f.getPath().toString()));
                    left--;
                }
            }
            if (left == 0) {
                fs.delete(dir.getPath(), true);
            }
        }
        return "[" + String.join(", ", removed) + "]";
    }

    /** Hashes of cache entries named in the AM specs of applications that have not ended. */
    private static java.util.Set<String> cacheInUse(Session s, Path cacheRoot, Path stagingRoot)
            throws IOException {
        FileSystem fs = s.fs;
        YarnClient yarn = s.yarn;
        java.util.Set<String> hashes = new HashSet<>();
        if (!fs.exists(stagingRoot)) {
            return hashes;
        }
        String prefix = cacheRoot.toUri().getPath() + "/";
        for (FileStatus st : fs.listStatus(stagingRoot)) {
            ApplicationId id;
            try {
                id = ApplicationId.fromString(st.getPath().getName());
                if (FINAL_STATES.contains(yarn.getApplicationReport(id).getYarnApplicationState())) {
                    continue;
                }
            } catch (IllegalArgumentException | YarnException e) {
                continue;   // not an application's directory, or one the RM has forgotten
            }
            Path amSpec = new Path(st.getPath(), Launch.AM_SPEC_NAME);
            if (!fs.exists(amSpec)) {
                continue;
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (java.io.InputStream in = fs.open(amSpec)) {
                org.apache.hadoop.io.IOUtils.copyBytes(in, bytes, 4096, false);
            }
            String text = new String(bytes.toByteArray(), StandardCharsets.UTF_8);
            // Every cache path the AM spec names, wherever it sits in the JSON.
            for (int at = text.indexOf(prefix); at >= 0; at = text.indexOf(prefix, at + 1)) {
                String rest = text.substring(at + prefix.length());
                int end = 0;
                while (end < rest.length() && rest.charAt(end) != '/' && rest.charAt(end) != '"') {
                    end++;
                }
                hashes.add(rest.substring(0, end));
            }
        }
        return hashes;
    }

    // -------------------------------------------------------------------- kill

    /** Kills an application; see {@link #kill(String, String, String)}. */
    public boolean kill(String appId) throws Exception {
        return kill(defaultKey(), appId, null);
    }

    /** Kills an application; see {@link #kill(String, String, String)}. */
    public boolean kill(String appId, String stagingRoot) throws Exception {
        return kill(defaultKey(), appId, stagingRoot);
    }

    /**
     * Kills an application, waits (up to about 10 s) for YARN to report it
     * ended, then deletes its staging directory. stagingRoot may be null: the
     * one it was submitted with from this JVM is used. Returns true when the
     * application ended (killed now, or already finished).
     */
    public boolean kill(String key, String appId, String stagingRoot) throws Exception {
        Session s = session(key);
        return s.run(() -> kill(s, appId, stagingRoot));
    }

    private boolean kill(Session s, String appId, String stagingRoot) throws IOException, YarnException {
        YarnClient yarn = s.yarn;
        ApplicationId id = ApplicationId.fromString(appId);
        long deadline = System.currentTimeMillis() + KILL_WAIT_MS;
        YarnApplicationState state = yarn.getApplicationReport(id).getYarnApplicationState();
        if (!FINAL_STATES.contains(state)) {
            try {
                s.killer.killApplication(id);
            } catch (YarnException e) {
                if (e instanceof ApplicationNotFoundException) {
                    throw e;
                }
                refusedOrNot(e);
                Log.warn("kill of " + appId + " not confirmed yet", e);
            }
            state = yarn.getApplicationReport(id).getYarnApplicationState();
            while (!FINAL_STATES.contains(state) && System.currentTimeMillis() < deadline) {
                sleep(200);
                state = yarn.getApplicationReport(id).getYarnApplicationState();
            }
        }
        boolean ended = FINAL_STATES.contains(state);
        submissions.values().removeIf(sub -> sub.appId().equals(appId));
        String root = stagingRoot != null ? stagingRoot : stagingRoots.get(appId);
        if (ended && root != null) {
            deleteQuietly(s.fs, new Path(s.fs.makeQualified(new Path(root)), appId));
            stagingRoots.remove(appId);
        }
        return ended;
    }

    /**
     * Throws an AccessControlException if {@code e} is the RM's refusal of an
     * operation (with ACLs on, a user outside an application's modify ACL:
     * "User bob cannot perform operation MODIFY_APP on application_..."). The
     * RM wraps its AccessControlException in a YarnException, so over RPC only
     * the message tells.
     */
    static void refusedOrNot(YarnException e) throws AccessControlException {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (t instanceof AccessControlException || (m != null && m.contains("cannot perform operation"))) {
                String text = (m == null ? t.toString() : m).split("\\r?\\n", 2)[0];
                int at = text.indexOf("AccessControlException: ");
                throw new AccessControlException(at >= 0
                        ? text.substring(at + "AccessControlException: ".length()) : text);
            }
        }
    }

    // -------------------------------------------------------------------- logs

    /**
     * Dumps the aggregated logs of an ended application into outDir with
     * Hadoop's own `yarn logs` (LogsCLI -out): one file per container at
     * outDir/&lt;host&gt;_&lt;port&gt;/&lt;container id&gt;. Returns outDir.
     */
    public String fetchAggregatedLogs(String appId, String outDir) throws Exception {
        return fetchAggregatedLogs(defaultKey(), appId, outDir);
    }

    /** As {@link #fetchAggregatedLogs(String, String)}, within the session {@code key}. */
    public String fetchAggregatedLogs(String key, String appId, String outDir) throws Exception {
        Session s = session(key);
        return s.run(() -> fetchAggregatedLogs(s.conf, appId, outDir));
    }

    private static String fetchAggregatedLogs(YarnConfiguration conf, String appId, String outDir)
            throws Exception {
        ApplicationId.fromString(appId);   // fail early, with Hadoop's message, on a bad id
        File out = new File(outDir);
        if (!out.isDirectory() && !out.mkdirs()) {
            throw new IOException("cannot create log directory " + out.getAbsolutePath());
        }
        initWebServiceClient(conf);
        LogsCLI cli = new LogsCLI();
        cli.setConf(new YarnConfiguration(conf));
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int rc;
        // LogsCLI prints its errors on System.err; copy them for the exception.
        // System.err is JVM-wide, hence the class lock.
        synchronized (Client.class) {
            PrintStream oldErr = System.err;
            System.setErr(new PrintStream(new Tee(oldErr, captured), true));
            try {
                rc = cli.run(new String[] {"-applicationId", appId, "-out", out.getAbsolutePath()});
            } finally {
                System.setErr(oldErr);
            }
        }
        if (rc != 0) {
            String said = new String(captured.toByteArray(), StandardCharsets.UTF_8).trim();
            // A refusal (HDFS modes of the remote log dir, the logs' view
            // ACL) is not a missing aggregation: say who was refused what.
            // Looked for in the whole text: LogsCLI prints a stack trace after it.
            java.util.regex.Matcher refused = REFUSED.matcher(said);
            if (refused.find()) {
                throw new AccessControlException("could not read the aggregated logs of " + appId + ": "
                        + refused.group());
            }
            if (said.length() > 2000) {
                said = "..." + said.substring(said.length() - 2000);
            }
            throw new IOException("could not fetch the aggregated logs of " + appId + " (yarn logs exit code "
                    + rc + "). Log aggregation must be enabled (yarn.log-aggregation-enable) and the application"
                    + " must have ended and its logs been uploaded" + (said.isEmpty() ? "." : ": " + said));
        }
        return outDir;
    }

    /** How HDFS and LogsCLI word a refusal, to the end of its line. */
    private static final java.util.regex.Pattern REFUSED = java.util.regex.Pattern.compile(
            "(Permission denied|AccessControlException|is not authorized|does not have permission)[^\\n]*");

    /**
     * LogsCLI.run (Hadoop 3.3 and later) needs the JVM-wide web client that
     * `yarn logs`'s main() sets up; initialize() is idempotent, and it is never
     * destroyed here because other calls may be using it. Hadoop 3.2 has no
     * WebServiceClient (its LogsCLI builds its own web client), so the class is
     * looked up by name: knit's jar is built against 3.4 but runs on 3.2 too.
     */
    static void initWebServiceClient(org.apache.hadoop.conf.Configuration conf) throws Exception {
        Class<?> webClient;
        try {
            webClient = Class.forName("org.apache.hadoop.yarn.webapp.util.WebServiceClient");
        } catch (ClassNotFoundException olderHadoop) {
            return;
        }
        webClient.getMethod("initialize", org.apache.hadoop.conf.Configuration.class).invoke(null, conf);
    }

    /** Writes to two streams at once. */
    private static final class Tee extends OutputStream {
        private final OutputStream a;
        private final OutputStream b;

        Tee(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int c) throws IOException {
            a.write(c);
            b.write(c);
        }

        @Override
        public void write(byte[] buf, int off, int len) throws IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }

        @Override
        public void flush() throws IOException {
            a.flush();
        }
    }

    // ------------------------------------------------------------------- misc

    /** Stops every session's YarnClients and closes their FileSystems. */
    public void close() {
        synchronized (sessions) {
            for (Session s : sessions.values()) {
                s.close();
            }
            sessions.clear();
        }
    }

    private static void killQuietly(Session s, String appId) {
        try {
            s.killer.killApplication(ApplicationId.fromString(appId));
        } catch (Exception e) {
            Log.warn("could not kill " + appId, e);
        }
    }

    private static void deleteQuietly(FileSystem fs, Path dir) {
        try {
            fs.delete(dir, true);
        } catch (Exception e) {
            Log.warn("could not delete " + dir, e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
