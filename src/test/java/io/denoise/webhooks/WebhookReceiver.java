package io.denoise.webhooks;

import com.sun.net.httpserver.HttpServer;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A webhook receiver for the tests, on 127.0.0.1: records what is posted to it, answers with a status the test sets,
 * can go down and come back on the same port, and verifies signatures as a Standard Webhooks receiver does (its own
 * HMAC, not the service's code).
 */
public final class WebhookReceiver implements AutoCloseable {

    /** One POST as it arrived. */
    public record Received(String id, String timestamp, String signature, String body, Instant at, int answered) {
    }

    private final List<Received> received = new CopyOnWriteArrayList<>();
    private final AtomicInteger answer = new AtomicInteger(204);
    private final int port;
    private HttpServer server;

    public WebhookReceiver() throws IOException {
        server = start(0);
        port = server.getAddress().getPort();
    }

    private HttpServer start(int onPort) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", onPort), 64);
        s.createContext("/", exchange -> {
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
                body = in.readAllBytes();
            }
            int status = answer.get();
            received.add(new Received(exchange.getRequestHeaders().getFirst("webhook-id"),
                    exchange.getRequestHeaders().getFirst("webhook-timestamp"),
                    exchange.getRequestHeaders().getFirst("webhook-signature"),
                    new String(body, StandardCharsets.UTF_8), Instant.now(), status));
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        });
        s.start();
        return s;
    }

    /** The URL to name as a job's webhook. */
    public String url() {
        return "http://127.0.0.1:" + port + "/hook";
    }

    /** What the receiver answers from now on. */
    public void answer(int status) {
        answer.set(status);
    }

    /** Stops listening: tries meet a refused connection. */
    public synchronized void down() {
        if (server != null) {
            server.stop(0);
            server = null;
        }
    }

    /** Listens again, on the same port. */
    public synchronized void up() throws IOException {
        if (server == null) {
            server = start(port);
        }
    }

    /** Everything posted so far, in arrival order. */
    public List<Received> received() {
        return new ArrayList<>(received);
    }

    /**
     * Whether {@code r} was signed with {@code secret} within {@code tolerance} of now, checked as a receiver would:
     * the key is the base64 after {@code whsec_}; the signed content is {@code id.timestamp.body}; any of the
     * space-separated {@code v1,<base64>} signatures may match, compared in constant time.
     */
    public static boolean verify(String secret, Received r, Duration tolerance) throws Exception {
        if (r.id() == null || r.timestamp() == null || r.signature() == null) {
            return false;
        }
        long timestamp = Long.parseLong(r.timestamp());
        if (Math.abs(Instant.now().getEpochSecond() - timestamp) > tolerance.toSeconds()) {
            return false;
        }
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(secret.substring("whsec_".length())), "HmacSHA256"));
        byte[] expected = mac.doFinal((r.id() + "." + r.timestamp() + "." + r.body()).getBytes(StandardCharsets.UTF_8));
        for (String candidate : r.signature().split(" ")) {
            if (candidate.startsWith("v1,")
                    && MessageDigest.isEqual(expected, Base64.getDecoder().decode(candidate.substring(3)))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        down();
    }
}
