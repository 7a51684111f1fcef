package io.denoise.webhooks;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/**
 * Webhooks: which addresses a job may name, and how deliveries are tried. Read by the API role, which both checks a
 * job's {@code webhook} on submit and sends the deliveries.
 */
@ConfigMapping(prefix = "denoise.webhooks")
public interface WebhookConfig {

    /** Whether {@code http://} URLs are accepted (default false: https only). */
    @WithDefault("false")
    boolean allowHttp();

    /** Whether URLs may reach loopback addresses (127.0.0.0/8, ::1); default false. */
    @WithDefault("false")
    boolean allowLoopback();

    /**
     * Whether URLs may reach private, link-local, carrier-grade NAT and unique-local addresses (10/8, 172.16/12,
     * 192.168/16, 169.254/16, 100.64/10, fc00::/7, fe80::/10); default false.
     */
    @WithDefault("false")
    boolean allowPrivate();

    /** The wait after the first failed try; each further failure doubles it (default 1s). */
    @WithDefault("1s")
    Duration initialBackoff();

    /** The longest wait between two tries (default 5m). */
    @WithDefault("5m")
    Duration maxBackoff();

    /** How long after its event a delivery is still tried; then it is given up as FAILED (default 24h). */
    @WithDefault("24h")
    Duration retryFor();

    /** How long a rotated secret still signs beside the new one (default 24h). */
    @WithDefault("24h")
    Duration rotationGrace();

    /** One try's limit, from connecting to the answer (default 10s). */
    @WithDefault("10s")
    Duration timeout();

    /** How often each API replica looks for deliveries due (default 500ms). */
    @WithDefault("500ms")
    Duration poll();

    /** Deliveries one replica tries at once (default 16): the sender's threads and the rows it claims per round. */
    @WithDefault("16")
    int concurrency();
}
