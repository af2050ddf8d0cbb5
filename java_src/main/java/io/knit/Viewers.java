package io.knit;

import java.io.UnsupportedEncodingException;
import java.net.URLDecoder;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.security.authorize.AccessControlList;
import org.apache.hadoop.yarn.api.records.ApplicationAccessType;
import org.apache.hadoop.yarn.conf.YarnConfiguration;

/**
 * Who may see the application's page ({@link WebUi}). The RM's web proxy
 * authenticates the viewer but lets any authenticated user through once they
 * accept its warning page; it passes the viewer's name in a
 * {@code proxy-user} cookie. On a secure cluster with
 * {@code yarn.acl.enable=true} this class applies what the RM applies to the
 * application's own report: its owner, the cluster's admins
 * ({@code yarn.admin.acl}) and the application's VIEW_APP ACL may see it.
 * Without security there is no authenticated viewer to check, as on every
 * other page of such a cluster.
 *
 * <p>Thread-safe: the ACLs arrive with the registration response.
 */
final class Viewers {
    /** The cookie Hadoop's WebAppProxyServlet names the viewer in. */
    static final String COOKIE = "proxy-user";

    private final boolean check;
    private final String owner;
    private final AccessControlList admins;
    private volatile AccessControlList view = new AccessControlList(" ");

    Viewers(boolean check, String owner, String adminAcl) {
        this.check = check;
        this.owner = owner;
        this.admins = new AccessControlList(adminAcl == null ? " " : adminAcl);
    }

    /** The rules of this cluster's configuration, for the current user's application. */
    static Viewers of(Configuration conf, String owner) {
        boolean check = UserGroupInformation.isSecurityEnabled()
                && conf.getBoolean(YarnConfiguration.YARN_ACL_ENABLE, YarnConfiguration.DEFAULT_YARN_ACL_ENABLE);
        return new Viewers(check, owner, conf.get(YarnConfiguration.YARN_ADMIN_ACL,
                YarnConfiguration.DEFAULT_YARN_ADMIN_ACL));
    }

    /** The application's ACLs, as the RM's registration response gives them (may be null). */
    void setAcls(Map<ApplicationAccessType, String> acls) {
        String v = acls == null ? null : acls.get(ApplicationAccessType.VIEW_APP);
        view = new AccessControlList(v == null || v.isEmpty() ? " " : v);
    }

    /** Null if {@code viewer} (null: not named) may see the page, else why not. */
    String refusal(String viewer) {
        if (!check) {
            return null;
        }
        if (viewer == null || viewer.isEmpty()) {
            return "open this page through the ResourceManager's web UI, which names its viewer";
        }
        if (viewer.equals(owner)) {
            return null;
        }
        UserGroupInformation ugi = UserGroupInformation.createRemoteUser(viewer);
        if (admins.isUserAllowed(ugi) || view.isUserAllowed(ugi)) {
            return null;
        }
        return viewer + " may not view this application: its owner can add them to the VIEW_APP ACL";
    }

    /** The viewer the proxy named in its cookie, or null. */
    static String cookie(List<String> headers) {
        if (headers == null) {
            return null;
        }
        for (String header : headers) {
            for (String part : header.split(";")) {
                String p = part.trim();
                if (p.startsWith(COOKIE + "=")) {
                    try {
                        return URLDecoder.decode(p.substring(COOKIE.length() + 1), "UTF-8");
                    } catch (UnsupportedEncodingException | IllegalArgumentException e) {
                        return null;
                    }
                }
            }
        }
        return null;
    }
}
