package io.knit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;

import org.junit.Test;

public class SessionTest {
    /** The login user by name, under simple authentication, is the login user's session. */
    @Test
    public void theLoginUserByNameSharesTheLoginSession() throws Exception {
        assertNull(Session.sameAsLogin("alice", "simple", () -> "alice"));
        assertNull(Session.sameAsLogin("alice", " SIMPLE ", () -> "alice"));
        assertEquals(Session.key(java.util.Collections.emptyMap(), null, null, null),
                Session.key(java.util.Collections.emptyMap(),
                        Session.sameAsLogin("alice", "simple", () -> "alice"), null, null));
    }

    /** Another user, or Kerberos (where the ticket decides), keeps the name asked for. */
    @Test
    public void anotherUserOrKerberosKeepsTheName() throws Exception {
        assertEquals("bob", Session.sameAsLogin("bob", "simple", () -> "alice"));
        assertEquals("alice", Session.sameAsLogin("alice", "kerberos", () -> {
            throw new AssertionError("no login lookup under Kerberos");
        }));
        assertNull(Session.sameAsLogin(null, "simple", () -> "alice"));
    }
}
