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

    /** Why a URL may not be used. */
    public static final class RefusedTargetException extends Exception {
        RefusedTargetException(String message) {
            super(message);
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
            throw new RefusedTargetException("host " + uri.getHost() + " does not resolve");
        }
        for (InetAddress address : addresses) {
            String refusal = refusal(address, config);
            if (refusal != null) {
                throw new RefusedTargetException("host " + uri.getHost() + " resolves to " + address.getHostAddress()
                        + ", " + refusal);
            }
        }
    }

    /** Why {@code address} may not be reached, or null if it may. */
    static String refusal(InetAddress address, WebhookConfig config) {
        InetAddress a = unmapped(address);
        if (a.isAnyLocalAddress() || a.isMulticastAddress() || isThisNetwork(a)) {
            return "which is not a destination";
        }
        if (a.isLoopbackAddress()) {
            return config.allowLoopback() ? null : "a loopback address (denoise.webhooks.allow-loopback)";
        }
        if (a.isSiteLocalAddress() || a.isLinkLocalAddress() || isCarrierNat(a) || isUniqueLocal(a)) {
            return config.allowPrivate() ? null : "a private address (denoise.webhooks.allow-private)";
        }
        return null;
    }

    /** An IPv4-mapped IPv6 address ({@code ::ffff:10.0.0.1}) as the IPv4 address it maps. */
    private static InetAddress unmapped(InetAddress address) {
        byte[] b = address.getAddress();
        if (address instanceof Inet6Address && b.length == 16) {
            boolean mapped = b[10] == (byte) 0xff && b[11] == (byte) 0xff;
            for (int i = 0; i < 10 && mapped; i++) {
                mapped = b[i] == 0;
            }
            if (mapped) {
                try {
                    return InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]});
                } catch (UnknownHostException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return address;
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
