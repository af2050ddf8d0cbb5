package io.knit;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The control channel's TLS material. The client generates, per application,
 * one self-signed certificate and its key (PEM, key first) and hands them to
 * the AM as a secret key of the application's YARN credentials. The AM
 * presents that certificate and accepts only clients presenting it too: both
 * ends prove they hold the key, and nothing else is trusted.
 */
final class Tls {
    private Tls() {}

    /** The key stores live in memory only; a password is still needed (Java 8's PKCS12 refuses none). */
    private static final char[] NO_PASSWORD = "knit".toCharArray();

    /** A TLS context that serves {@code pem}'s certificate and trusts only it. */
    static SSLContext serverContext(byte[] pem) throws GeneralSecurityException {
        String text = new String(pem, StandardCharsets.US_ASCII);
        Certificate cert = CertificateFactory.getInstance("X.509").generateCertificate(
                new ByteArrayInputStream(block(text, "CERTIFICATE")));
        PrivateKey key = privateKey(block(text, "PRIVATE KEY"), cert.getPublicKey().getAlgorithm());
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("knit", key, NO_PASSWORD, new Certificate[] {cert});
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("knit", cert);
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, NO_PASSWORD);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        } catch (java.io.IOException e) {
            throw new GeneralSecurityException("cannot build the control channel's key store: " + e, e);
        }
    }

    /** The DER bytes of the first PEM block of that type. */
    static byte[] block(String pem, String type) throws GeneralSecurityException {
        String begin = "-----BEGIN " + type + "-----";
        String end = "-----END " + type + "-----";
        int b = pem.indexOf(begin);
        int e = b < 0 ? -1 : pem.indexOf(end, b);
        if (e < 0) {
            throw new GeneralSecurityException("the application's TLS material has no " + type);
        }
        String body = pem.substring(b + begin.length(), e).replaceAll("\\s", "");
        try {
            return Base64.getDecoder().decode(body);
        } catch (IllegalArgumentException x) {
            throw new GeneralSecurityException("bad " + type + " in the application's TLS material", x);
        }
    }

    private static PrivateKey privateKey(byte[] pkcs8, String algorithm) throws GeneralSecurityException {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
    }
}
