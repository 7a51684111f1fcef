package io.denoise.webhooks;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WebhookTargetTest {

    private static WebhookConfig config(boolean http, boolean loopback, boolean priv) {
        return new WebhookConfig() {
            public boolean allowHttp() {
                return http;
            }

            public boolean allowLoopback() {
                return loopback;
            }

            public boolean allowPrivate() {
                return priv;
            }

            public Duration initialBackoff() {
                return Duration.ofSeconds(1);
            }

            public Duration maxBackoff() {
                return Duration.ofMinutes(5);
            }

            public Duration retryFor() {
                return Duration.ofHours(24);
            }

            public Duration rotationGrace() {
                return Duration.ofHours(24);
            }

            public Duration timeout() {
                return Duration.ofSeconds(10);
            }

            public Duration poll() {
                return Duration.ofMillis(500);
            }

            public int concurrency() {
                return 4;
            }
        };
    }

    private static final WebhookConfig STRICT = config(false, false, false);

    @Test
    void loopbackPrivateLinkLocalAndSpecialAddressesAreRefusedByDefault() throws Exception {
        for (String address : List.of("127.0.0.1", "127.1.2.3", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.255",
                "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255", "fc00::1", "fd12:3456::1", "fe80::1",
                "::ffff:10.0.0.1", "::ffff:127.0.0.1", "0.0.0.0", "0.1.2.3", "::", "224.0.0.1", "ff02::1",
                // IPv4 carried in IPv6: NAT64, 6to4, the old compatible form
                "64:ff9b::a00:1", "64:ff9b::7f00:1", "2002:a00:1::", "2002:c0a8:101::1", "::10.0.0.1",
                // reserved ranges
                "192.0.0.8", "198.18.0.1", "198.19.255.255", "240.0.0.1", "255.255.255.255")) {
            assertNotNull(WebhookTarget.refusal(InetAddress.getByName(address), STRICT), address);
        }
        for (String address : List.of("93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111",
                "64:ff9b::808:808", "2002:808:808::", "198.20.0.1", "192.0.1.1")) {
            assertNull(WebhookTarget.refusal(InetAddress.getByName(address), STRICT), address);
        }
    }

    @Test
    void configurationAllowsLoopbackAndPrivateAddressesSeparately() throws Exception {
        WebhookConfig loopback = config(false, true, false);
        assertNull(WebhookTarget.refusal(InetAddress.getByName("127.0.0.1"), loopback));
        assertNull(WebhookTarget.refusal(InetAddress.getByName("::1"), loopback));
        assertNotNull(WebhookTarget.refusal(InetAddress.getByName("10.0.0.1"), loopback));
        WebhookConfig priv = config(false, false, true);
        assertNull(WebhookTarget.refusal(InetAddress.getByName("10.0.0.1"), priv));
        assertNull(WebhookTarget.refusal(InetAddress.getByName("169.254.169.254"), priv));
        assertNotNull(WebhookTarget.refusal(InetAddress.getByName("127.0.0.1"), priv));
        // never a destination, whatever is allowed
        assertNotNull(WebhookTarget.refusal(InetAddress.getByName("0.0.0.0"), config(true, true, true)));
    }

    @Test
    void onlyAbsoluteHttpsUrlsWithAHostAndNoUserAreAccepted() throws Exception {
        assertEquals("example.com", WebhookTarget.parse("https://example.com/hook?x=1", STRICT).getHost());
        for (String url : List.of("http://example.com/", "ftp://example.com/", "/relative", "https:///nohost",
                "https://user:pw@example.com/", "https://example.com/#frag", "not a url", "https://" + "a".repeat(2050))) {
            assertThrows(WebhookTarget.RefusedTargetException.class, () -> WebhookTarget.parse(url, STRICT), url);
        }
        assertDoesNotThrow(() -> WebhookTarget.parse("http://example.com/", config(true, false, false)));
    }

    @Test
    void aHostIsCheckedByEveryAddressItResolvesTo() throws Exception {
        URI literal = URI.create("https://127.0.0.1:8443/hook");
        WebhookTarget.RefusedTargetException e = assertThrows(WebhookTarget.RefusedTargetException.class,
                () -> WebhookTarget.checkAddresses(literal, STRICT));
        assertTrue(e.getMessage().contains("loopback"), e.getMessage());
        assertTrue(!e.retryable(), "a refused address is final");
        WebhookTarget.RefusedTargetException named = assertThrows(WebhookTarget.RefusedTargetException.class,
                () -> WebhookTarget.checkAddresses(URI.create("https://localhost/hook"), STRICT));
        assertTrue(!named.getMessage().contains("127.") && !named.getMessage().contains("::1"),
                "the address a name resolves to is not told: " + named.getMessage());
        assertDoesNotThrow(() -> WebhookTarget.checkAddresses(URI.create("https://localhost/hook"), config(false, true, false)));
        assertThrows(WebhookTarget.RefusedTargetException.class,
                () -> WebhookTarget.checkAddresses(URI.create("https://[::ffff:192.168.0.1]/hook"), STRICT));
        WebhookTarget.RefusedTargetException unresolved = assertThrows(WebhookTarget.RefusedTargetException.class,
                () -> WebhookTarget.checkAddresses(URI.create("https://no-such-host.invalid/hook"), STRICT));
        assertTrue(unresolved.getMessage().contains("does not resolve"), unresolved.getMessage());
        assertTrue(unresolved.retryable(), "a name that does not resolve now may later");
    }
}
