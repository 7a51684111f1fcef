package io.denoise.webhooks;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;

/**
 * The Standard Webhooks signature: {@code webhook-signature: v1,<base64 HMAC-SHA256>} over
 * {@code <webhook-id>.<webhook-timestamp>.<body>}, keyed by the secret's bytes (the base64 after {@code whsec_}).
 */
public final class WebhookSignature {

    /** What every secret starts with. */
    public static final String SECRET_PREFIX = "whsec_";
    private static final SecureRandom RANDOM = new SecureRandom();

    private WebhookSignature() {
    }

    /** A new secret: {@code whsec_} and 32 random bytes in base64. */
    public static String newSecret() {
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        return SECRET_PREFIX + Base64.getEncoder().encodeToString(key);
    }

    /**
     * @param secret    a {@code whsec_} secret
     * @param id        the {@code webhook-id}
     * @param timestamp the {@code webhook-timestamp}, seconds since the epoch
     * @param body      the exact bytes sent, as UTF-8 text
     * @return the {@code webhook-signature} header's value
     */
    public static String sign(String secret, String id, long timestamp, String body) {
        return signature(secret, id, timestamp, body);
    }

    /** The {@code webhook-signature} header signed with each of {@code secrets}: their signatures, space-separated. */
    public static String sign(List<String> secrets, String id, long timestamp, String body) {
        return String.join(" ", secrets.stream().map(s -> signature(s, id, timestamp, body)).toList());
    }

    private static String signature(String secret, String id, long timestamp, String body) {
        if (!secret.startsWith(SECRET_PREFIX)) {
            throw new IllegalArgumentException("a webhook secret starts with " + SECRET_PREFIX);
        }
        byte[] key = Base64.getDecoder().decode(secret.substring(SECRET_PREFIX.length()));
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] signature = mac.doFinal((id + "." + timestamp + "." + body).getBytes(StandardCharsets.UTF_8));
            return "v1," + Base64.getEncoder().encodeToString(signature);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }
}
