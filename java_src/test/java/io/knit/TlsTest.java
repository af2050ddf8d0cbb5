package io.knit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;

import org.junit.Test;

public class TlsTest {
    @Test
    public void missingMaterialIsNamed() {
        try {
            Tls.serverContext("no pem here".getBytes(StandardCharsets.US_ASCII));
        } catch (GeneralSecurityException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("CERTIFICATE"));
            return;
        }
        throw new AssertionError("accepted text without a certificate");
    }

    @Test
    public void blockDecodesTheFirstBlockOfItsType() throws Exception {
        String pem = "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n"
                + "-----BEGIN CERTIFICATE-----\nAwQF\nBgc=\n-----END CERTIFICATE-----\n";
        assertEquals(3, Tls.block(pem, "PRIVATE KEY").length);
        byte[] cert = Tls.block(pem, "CERTIFICATE");
        assertEquals(5, cert.length);
        assertEquals(7, cert[4]);
    }
}
