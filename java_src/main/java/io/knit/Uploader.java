package io.knit;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Set;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.yarn.api.records.LocalResourceType;
import org.apache.hadoop.yarn.api.records.LocalResourceVisibility;

/**
 * Puts one submit's files on the cluster filesystem and describes each as a
 * YARN resource. Per-app files go into the app's staging directory (deleted
 * when the app ends); cached files go into cache_root/&lt;sha256&gt;/&lt;name&gt;, written
 * under a temporary name and renamed into place so that the final name never
 * holds a partial upload. One Uploader serves one submit and counts what it did.
 */
final class Uploader {
    static final FsPermission PRIVATE_DIR = new FsPermission((short) 0700);
    private static final int BUFFER = 1 << 16;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** A file on the cluster filesystem, ready to become a LocalResource. */
    static final class Placed {
        final URI uri;
        final LocalResourceType type;
        final long size;
        final long timestamp;
        /**
         * Cache entries never change (their path holds their hash), so each
         * node may keep them localized across applications (PRIVATE: per
         * user); everything else lives as long as its application.
         */
        final LocalResourceVisibility visibility;

        Placed(URI uri, LocalResourceType type, long size, long timestamp) {
            this(uri, type, size, timestamp, LocalResourceVisibility.APPLICATION);
        }

        Placed(URI uri, LocalResourceType type, long size, long timestamp,
               LocalResourceVisibility visibility) {
            this.uri = uri;
            this.type = type;
            this.size = size;
            this.timestamp = timestamp;
            this.visibility = visibility;
        }

        Placed keptAcrossApplications() {
            return new Placed(uri, type, size, timestamp, LocalResourceVisibility.PRIVATE);
        }
    }

    private final Configuration conf;
    private final FileSystem fs;
    private final Path appDir;
    private final Path cacheRoot;
    private final boolean uploadAlways;
    private final Short replication;
    /** Throws when the submit was cancelled; run between buffers of every copy and hash. */
    private final Runnable checkpoint;
    private final Set<String> usedNames = new HashSet<>();
    private int duplicates;
    /** Filesystems other than fs that resources live on (for delegation tokens). */
    final Set<FileSystem> remoteFileSystems = new LinkedHashSet<>();

    int uploadedFiles;
    long uploadedBytes;
    int cachedFiles;

    Uploader(Configuration conf, FileSystem fs, Path appDir, Path cacheRoot, boolean uploadAlways,
             Short replication, Runnable checkpoint) {
        this.checkpoint = checkpoint;
        this.conf = conf;
        this.fs = fs;
        this.appDir = appDir;
        this.cacheRoot = cacheRoot;
        this.uploadAlways = uploadAlways;
        this.replication = replication;
    }

    String report() {
        return "uploaded_files=" + uploadedFiles + " uploaded_bytes=" + uploadedBytes
                + " cached_files=" + cachedFiles;
    }

    /** True for "hdfs://...", "s3a://..." etc.; false for plain paths and file: URIs. */
    static boolean isRemote(String source) {
        int colon = source.indexOf(':');
        int slash = source.indexOf('/');
        if (colon <= 1 || (slash >= 0 && slash < colon)) {
            return false;   // no scheme (a one-letter "scheme" would be a Windows drive)
        }
        return !source.regionMatches(true, 0, "file:", 0, 5);
    }

    /** The local file behind a non-remote source ("/x", "x", "file:///x"). */
    static File localFile(String source) {
        if (source.regionMatches(true, 0, "file:", 0, 5)) {
            return new File(URI.create(source).getPath());
        }
        return new File(source);
    }

    /** Base name of a source, used as the default link name. */
    static String baseName(String source) {
        return isRemote(source) ? new Path(source).getName() : localFile(source).getName();
    }

    /**
     * Places one source: a remote URI is used where it is; a local file is
     * uploaded into the staging dir, or into the cache when {@code cache}.
     */
    Placed place(String source, boolean cache) throws IOException {
        if (isRemote(source)) {
            Path p = new Path(source);
            FileSystem rfs = p.getFileSystem(conf);
            FileStatus st;
            try {
                st = rfs.getFileStatus(p);
            } catch (FileNotFoundException e) {
                throw new FileNotFoundException("remote file " + source + " does not exist");
            }
            if (!sameFileSystem(rfs)) {
                remoteFileSystems.add(rfs);
            }
            return placed(rfs, st);
        }
        File f = localFile(source);
        if (!f.exists()) {
            throw new FileNotFoundException("local file " + f.getAbsolutePath() + " does not exist");
        }
        if (cache && !uploadAlways && f.isFile()) {
            return cached(f);
        }
        return staged(f);
    }

    /** Writes a small text file (the AM spec, the worker script) into the staging dir. */
    Placed writeStaged(String name, byte[] content) throws IOException {
        Path dest = new Path(appDir, name);
        try (OutputStream out = create(dest, false)) {
            out.write(content);
        }
        usedNames.add(name);
        return placed(fs, fs.getFileStatus(dest));
    }

    private boolean sameFileSystem(FileSystem other) {
        return other.getUri().equals(fs.getUri());
    }

    private Placed staged(File f) throws IOException {
        String name = f.getName();
        Path dest = new Path(appDir, name);
        if (!usedNames.add(name)) {
            // Two sources share a base name: keep the name (YARN picks the
            // archive format from it) but put the file in its own sub-directory.
            dest = new Path(new Path(appDir, "dup" + (++duplicates)), name);
        }
        long bytes;
        if (f.isDirectory()) {
            checkpoint.run();
            fs.copyFromLocalFile(false, true, new Path(f.getAbsoluteFile().toURI()), dest);
            checkpoint.run();
            bytes = fs.getContentSummary(dest).getLength();
        } else {
            upload(f, dest, false);
            bytes = f.length();
        }
        uploadedFiles++;
        uploadedBytes += bytes;
        FileStatus st = fs.getFileStatus(dest);
        return new Placed(fs.makeQualified(dest).toUri(), Launch.typeFor(name), bytes,
                st.getModificationTime());
    }

    private Placed cached(File f) throws IOException {
        String name = f.getName();
        Path dir = new Path(cacheRoot, sha256(f, checkpoint));
        Path target = new Path(dir, name);
        FileStatus existing = statOrNull(target);
        if (existing != null && existing.isFile() && existing.getLen() == f.length()) {
            cachedFiles++;
            return placed(fs, existing).keptAcrossApplications();
        }
        mkdirsPrivate(fs, dir);
        if (existing != null) {
            // Same hash, other length: a damaged entry; replace it.
            fs.delete(target, true);
        }
        Path tmp = new Path(dir, "." + name + "." + Long.toHexString(RANDOM.nextLong()) + ".tmp");
        try {
            upload(f, tmp, false);
            uploadedFiles++;
            uploadedBytes += f.length();
            boolean renamed;
            try {
                renamed = fs.rename(tmp, target);   // HDFS: false when target exists
            } catch (IOException e) {
                renamed = false;
            }
            if (!renamed) {
                FileStatus winner = statOrNull(target);
                if (winner == null || winner.getLen() != f.length()) {
                    throw new IOException("could not move " + tmp + " to " + target);
                }
                // A concurrent submit uploaded the same content first: use its copy.
                fs.delete(tmp, false);
            }
        } finally {
            if (fs.exists(tmp)) {
                fs.delete(tmp, false);
            }
        }
        return placed(fs, fs.getFileStatus(target)).keptAcrossApplications();
    }

    private void upload(File f, Path dest, boolean overwrite) throws IOException {
        try (InputStream in = new FileInputStream(f); OutputStream out = create(dest, overwrite)) {
            byte[] buf = new byte[BUFFER];
            int n;
            while ((n = in.read(buf)) > 0) {
                checkpoint.run();
                out.write(buf, 0, n);
            }
        }
    }

    private OutputStream create(Path dest, boolean overwrite) throws IOException {
        short rep = replication != null ? replication : fs.getDefaultReplication(dest);
        return fs.create(dest, overwrite, BUFFER, rep, fs.getDefaultBlockSize(dest));
    }

    private FileStatus statOrNull(Path p) throws IOException {
        try {
            return fs.getFileStatus(p);
        } catch (FileNotFoundException e) {
            return null;
        }
    }

    private static Placed placed(FileSystem fs, FileStatus st) throws IOException {
        long size = st.isDirectory() ? fs.getContentSummary(st.getPath()).getLength() : st.getLen();
        return new Placed(fs.makeQualified(st.getPath()).toUri(), Launch.typeFor(st.getPath().getName()),
                size, st.getModificationTime());
    }

    /**
     * mkdirs with mode 0700 on every directory this call creates. The mode is
     * set explicitly afterwards because mkdirs applies the client's umask.
     */
    static void mkdirsPrivate(FileSystem fs, Path dir) throws IOException {
        Path missing = dir;
        ArrayDeque<Path> toCreate = new ArrayDeque<>();
        while (missing != null && !fs.exists(missing)) {
            toCreate.push(missing);
            missing = missing.getParent();
        }
        for (Path p : toCreate) {
            fs.mkdirs(p, PRIVATE_DIR);
            fs.setPermission(p, PRIVATE_DIR);
        }
    }

    static String sha256(File f, Runnable checkpoint) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IOException(e);
        }
        byte[] buf = new byte[BUFFER];
        try (InputStream in = new FileInputStream(f)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                checkpoint.run();
                md.update(buf, 0, n);
            }
        }
        StringBuilder hex = new StringBuilder();
        for (byte b : md.digest()) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }
}
