package io.denoise.webhooks;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WebhookSignatureTest {

    @Test
    void signsAsTheStandardWebhooksExampleDoes() {
        // the example of the Standard Webhooks specification's reference libraries
        assertEquals("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", WebhookSignature.sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                "{\"test\": 2432232314}"));
    }

    @Test
    void anyChangeToTheIdTheTimeOrTheBodyChangesTheSignature() {
        String secret = WebhookSignature.newSecret();
        String signature = WebhookSignature.sign(secret, "id", 1, "{}");
        assertNotEquals(signature, WebhookSignature.sign(secret, "id2", 1, "{}"));
        assertNotEquals(signature, WebhookSignature.sign(secret, "id", 2, "{}"));
        assertNotEquals(signature, WebhookSignature.sign(secret, "id", 1, "{ }"));
        assertNotEquals(signature, WebhookSignature.sign(WebhookSignature.newSecret(), "id", 1, "{}"));
    }

    @Test
    void secretsAreWhsecAnd32RandomBytes() {
        String secret = WebhookSignature.newSecret();
        assertTrue(secret.startsWith("whsec_"), secret);
        assertEquals(32, java.util.Base64.getDecoder().decode(secret.substring(6)).length);
        assertNotEquals(secret, WebhookSignature.newSecret());
        assertThrows(IllegalArgumentException.class, () -> WebhookSignature.sign("not-a-secret", "id", 1, "{}"));
    }
}
