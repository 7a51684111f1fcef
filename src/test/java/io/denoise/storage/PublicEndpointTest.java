package io.denoise.storage;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Presigned URLs name the endpoint clients reach, when one is configured, and signing it needs no connection. */
class PublicEndpointTest {

    private static StorageConfig config(Optional<String> publicEndpoint) {
        return new StorageConfig() {
            public String endpoint() { return "http://minio.internal:9000"; }
            public Optional<String> publicEndpoint() { return publicEndpoint; }
            public String accessKey() { return "access"; }
            public String secretKey() { return "secret-secret"; }
            public String bucket() { return "denoise"; }
            public String region() { return "us-east-1"; }
            public Duration connectTimeout() { return Duration.ofSeconds(1); }
            public Duration ioTimeout() { return Duration.ofSeconds(1); }
        };
    }

    private static URI sign(Optional<String> publicEndpoint) throws Exception {
        ImageStore store = new ImageStore();
        store.config = config(publicEndpoint);
        return URI.create(store.presignedGet("tenants/local/jobs/j/0.png", 600));
    }

    @Test
    void aPresignedUrlIsForThePublicEndpointWhenOneIsSetAndForTheStoresOwnOtherwise() throws Exception {
        // neither host resolves here: signing is local, with the region given
        URI signed = sign(Optional.of("https://images.example.invalid"));
        assertEquals("https", signed.getScheme());
        assertEquals("images.example.invalid", signed.getHost());
        assertEquals("/denoise/tenants/local/jobs/j/0.png", signed.getPath());
        assertTrue(signed.getQuery().contains("X-Amz-Signature=") && signed.getQuery().contains("X-Amz-Expires=600"), signed.toString());
        URI internal = sign(Optional.empty());
        assertEquals("minio.internal", internal.getHost());
        assertEquals(9000, internal.getPort());
    }
}
