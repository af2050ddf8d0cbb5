package io.knit;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.apache.hadoop.io.Text;
import org.apache.hadoop.security.Credentials;
import org.apache.hadoop.security.token.Token;
import org.apache.hadoop.yarn.api.records.ContainerId;
import org.junit.Test;

public class KvAccessTest {
    private static final String PEM = "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n"
            + "-----BEGIN CERTIFICATE-----\nAwQF\n-----END CERTIFICATE-----\n";
    private static final String ID = "container_1796134547633_0002_01_000002";

    private final KvAccess access = new KvAccess(PEM.getBytes(StandardCharsets.US_ASCII), "node:1234");

    @Test
    public void aTokenProvesOneContainer() {
        String token = access.token(ID);
        assertEquals(ID, access.container("KnitContainer " + ID + " " + token));
        String other = ID.replace("000002", "000003");
        assertNull(access.container("KnitContainer " + other + " " + token));
        assertNull(access.container("KnitContainer " + ID + " " + token.substring(1)));
        assertNull(access.container(null));
        assertNull(access.container("Bearer " + token));
        // Another application's key makes other tokens.
        KvAccess elsewhere = new KvAccess(PEM.replace("AAEC", "AAED").getBytes(StandardCharsets.US_ASCII), "n:1");
        assertNotEquals(token, elsewhere.token(ID));
        // The PEM's last newline does not matter (the submit path may trim it).
        assertEquals(token, new KvAccess(PEM.trim().getBytes(StandardCharsets.US_ASCII), "n:1").token(ID));
    }

    @Test
    public void theCredentialHoldsNoPrivateKey() {
        String c = access.credential(ID);
        assertTrue(c.startsWith(KvClient.MAGIC + "\nnode:1234\n" + ID + "\n"));
        assertTrue(c.contains("BEGIN CERTIFICATE"));
        assertTrue(!c.contains("PRIVATE KEY") && !c.contains("AAEC"));
        KvClient.Credential parsed = new KvClient.Credential(c);
        assertEquals("node:1234", parsed.address);
        assertEquals(ID, parsed.containerId);
        assertEquals(access.token(ID), parsed.token);
    }

    /** The container reads, without Hadoop's classes, what Hadoop's Credentials wrote. */
    @Test
    public void theContainerReadsItsCredentialFromHadoopsTokenStorage() throws Exception {
        Credentials base = new Credentials();
        base.addToken(new Text("hdfs"), new Token<>(new byte[300], new byte[20], new Text("HDFS_DELEGATION_TOKEN"),
                new Text("127.0.0.1:8020")));
        base.addSecretKey(new Text("other"), new byte[200]);
        org.apache.hadoop.io.DataOutputBuffer out = new org.apache.hadoop.io.DataOutputBuffer();
        base.writeTokenStorageToStream(out);
        ContainerId id = ContainerId.fromString(ID);
        ByteBuffer tokens = access.tokensFor(id, ByteBuffer.wrap(out.getData(), 0, out.getLength()));
        byte[] file = new byte[tokens.remaining()];
        tokens.get(file);
        byte[] secret = KvClient.secretKey(file, KvClient.ALIAS);
        assertArrayEquals(access.credential(ID).getBytes(StandardCharsets.UTF_8), secret);
        assertArrayEquals(new byte[200], KvClient.secretKey(file, "other"));
        assertNull(KvClient.secretKey(file, "absent"));
        // The workers' other tokens are kept.
        Credentials back = new Credentials();
        back.readTokenStorageStream(new java.io.DataInputStream(new java.io.ByteArrayInputStream(file)));
        assertEquals(1, back.numberOfTokens());
        // With no tokens at all (an insecure cluster) too.
        ByteBuffer alone = access.tokensFor(id, null);
        byte[] f2 = new byte[alone.remaining()];
        alone.get(f2);
        assertArrayEquals(secret, KvClient.secretKey(f2, KvClient.ALIAS));
    }

    @Test
    public void argumentsComeOnStdinNulTerminated() {
        byte[] in = "get\0k\u00fc\0\0".getBytes(StandardCharsets.UTF_8);
        byte[][] args = KvClient.splitNul(in);
        assertEquals(3, args.length);
        assertEquals("k\u00fc", new String(args[1], StandardCharsets.UTF_8));
        assertEquals(0, args[2].length);                 // an empty argument survives
    }

    @Test
    public void usageErrorsExitTwo() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream e = new PrintStream(err, true);
        PrintStream o = new PrintStream(new ByteArrayOutputStream(), true);
        assertEquals(KvClient.USAGE, KvClient.run(KvClient.utf8(new String[] {"put", "onlykey"}), o, e));
        assertTrue(err.toString().contains("put takes KEY VALUE"));
        assertEquals(KvClient.USAGE, KvClient.run(KvClient.utf8(new String[] {"get", "k", "--wait=soon"}), o, e));
        assertEquals(KvClient.USAGE, KvClient.run(new byte[0][], o, e));
        assertEquals(KvClient.OK, KvClient.run(KvClient.utf8(new String[] {"--help"}), o, e));
    }

    @Test
    public void putTakesItsValueFromAFile() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream e = new PrintStream(err, true);
        PrintStream o = new PrintStream(new ByteArrayOutputStream(), true);
        assertEquals(KvClient.USAGE, KvClient.run(KvClient.utf8(new String[] {"put", "k", "--file"}), o, e));
        assertTrue(err.toString().contains("--file takes a PATH"));
        assertEquals(KvClient.USAGE, KvClient.run(KvClient.utf8(new String[] {"put", "k", "v", "--file", "f"}), o, e));
        assertTrue(err.toString().contains("put takes KEY --file PATH"));
        // The file is read before the store is asked: a missing one is named.
        err.reset();
        assertEquals(KvClient.MISSING, KvClient.run(KvClient.utf8(new String[] {"put", "k", "--file", "/no/such/file"}), o, e));
        assertTrue(err.toString(), err.toString().contains("/no/such/file"));
    }

    @Test
    public void thePathGetsKnitKvFirst() {
        String cmd = KvAccess.withKvOnPath("/bin/bash knit-worker.sh");
        assertEquals("PATH='$PWD/.knit/bin:$PATH' /bin/bash knit-worker.sh", cmd);
        assertTrue(KvAccess.script().contains("io.knit.KvClient " + KvClient.ARGS_ON_STDIN));
    }
}
