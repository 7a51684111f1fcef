package io.denoise.webhooks;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * Where a webhook may go: an absolute {@code https} URL (or {@code http} where allowed) whose host resolves only to
 * public addresses, unless configuration allows loopback or private ones. Checked on submit and again before every
 * try, so a name that later resolves somewhere internal is refused then too.
 */
public final class WebhookTarget {

    /** Longest URL accepted. */
    public static final int MAX_URL_LENGTH = 2048;

    /** Why a URL may not be used; {@link #retryable()} when it may be usable later (its host did not resolve). */
    public static final class RefusedTargetException extends Exception {
        private final boolean retryable;

        RefusedTargetException(String message) {
            this(message, false);
        }

        RefusedTargetException(String message, boolean retryable) {
            super(message);
            this.retryable = retryable;
        }

        public boolean retryable() {
            return retryable;
        }
    }

    private WebhookTarget() {
    }

    /** The URL, parsed, if its form and scheme are acceptable (the host is not resolved). */
    public static URI parse(String url, WebhookConfig config) throws RefusedTargetException {
        if (url.length() > MAX_URL_LENGTH) {
            throw new RefusedTargetException("must be at most " + MAX_URL_LENGTH + " characters");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new RefusedTargetException("is not a valid URL: " + e.getReason());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !(scheme.equals("http") && config.allowHttp())) {
            throw new RefusedTargetException(config.allowHttp() ? "must be an http or https URL" : "must be an https URL");
        }
        if (uri.getHost() == null || uri.getRawUserInfo() != null || uri.getRawFragment() != null) {
            throw new RefusedTargetException("must be an absolute URL with a host, and no user name or fragment");
        }
        return uri;
    }

    /**
     * Resolves the URL's host and refuses it if any address it has is one configuration does not allow.
     *
     * @throws RefusedTargetException naming the address, or if the host does not resolve
     */
    public static void checkAddresses(URI uri, WebhookConfig config) throws RefusedTargetException {
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(uri.getHost());
        } catch (UnknownHostException e) {
            throw new RefusedTargetException("host " + uri.getHost() + " does not resolve", true);
        }
        for (InetAddress address : addresses) {
            String refusal = refusal(address, config);
            if (refusal != null) {
                // the address itself is not told: a caller must not map the internal network through this answer
                throw new RefusedTargetException("host " + uri.getHost() + " resolves to " + refusal);
            }
        }
    }

    /** Why {@code address} may not be reached, or null if it may. */
    static String refusal(InetAddress address, WebhookConfig config) {
        InetAddress a = unmapped(address);
        if (a.isAnyLocalAddress() || a.isMulticastAddress() || isThisNetwork(a) || isReserved(a)) {
            return "an address which is not a destination";
        }
        if (a.isLoopbackAddress()) {
            return config.allowLoopback() ? null : "a loopback address (denoise.webhooks.allow-loopback)";
        }
        if (a.isSiteLocalAddress() || a.isLinkLocalAddress() || isCarrierNat(a) || isUniqueLocal(a)) {
            return config.allowPrivate() ? null : "a private address (denoise.webhooks.allow-private)";
        }
        return null;
    }

    /**
     * An IPv6 address that carries an IPv4 one, as that IPv4 address: mapped ({@code ::ffff:a.b.c.d}), compatible
     * ({@code ::a.b.c.d}), NAT64 ({@code 64:ff9b::a.b.c.d}) and 6to4 ({@code 2002:aabb:ccdd::}).
     */
    private static InetAddress unmapped(InetAddress address) {
        byte[] b = address.getAddress();
        if (!(address instanceof Inet6Address) || b.length != 16) {
            return address;
        }
        if (b[0] == 0x20 && b[1] == 0x02) {
            return v4(b[2], b[3], b[4], b[5]);
        }
        boolean nat64 = b[0] == 0 && b[1] == 0x64 && b[2] == (byte) 0xff && b[3] == (byte) 0x9b;
        boolean zeros = true;
        for (int i = nat64 ? 4 : 0; i < 10; i++) {
            zeros &= b[i] == 0;
        }
        boolean mapped = zeros && b[10] == (byte) 0xff && b[11] == (byte) 0xff;
        boolean compatible = zeros && b[10] == 0 && b[11] == 0 && !nat64
                && (b[12] != 0 || b[13] != 0 || b[14] != 0 || (b[15] & 0xfe) != 0);   // not :: or ::1
        if ((nat64 && zeros && b[10] == 0 && b[11] == 0) || mapped || compatible) {
            return v4(b[12], b[13], b[14], b[15]);
        }
        return address;
    }

    private static InetAddress v4(byte a, byte b, byte c, byte d) {
        try {
            return InetAddress.getByAddress(new byte[] {a, b, c, d});
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** IETF protocol assignments (192.0.0.0/24), benchmarking (198.18.0.0/15), reserved (240.0.0.0/4, broadcast). */
    private static boolean isReserved(InetAddress a) {
        byte[] b = a.getAddress();
        if (!(a instanceof Inet4Address)) {
            return false;
        }
        int first = b[0] & 0xff;
        return (first == 192 && b[1] == 0 && b[2] == 0) || (first == 198 && (b[1] & 0xfe) == 18) || first >= 240;
    }

    private static boolean isThisNetwork(InetAddress a) {
        return a instanceof Inet4Address && a.getAddress()[0] == 0;
    }

    private static boolean isCarrierNat(InetAddress a) {
        byte[] b = a.getAddress();
        return a instanceof Inet4Address && (b[0] & 0xff) == 100 && (b[1] & 0xc0) == 64;
    }

    private static boolean isUniqueLocal(InetAddress a) {
        return a instanceof Inet6Address && (a.getAddress()[0] & 0xfe) == 0xfc;
    }
}
