package io.denoise.storage;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;
import java.util.Optional;

/** The S3-compatible image store (MinIO in production). */
@ConfigMapping(prefix = "denoise.storage")
public interface StorageConfig {

    /** Endpoint URL, e.g. {@code http://minio:9000}. */
    String endpoint();

    /**
     * The endpoint clients reach the store at, for presigned URLs (e.g. {@code https://images.example.com}), when it
     * is not {@link #endpoint()} (a cluster-internal name). Signing needs no connection to it.
     */
    Optional<String> publicEndpoint();

    /** Access key. */
    String accessKey();

    /** Secret key. */
    String secretKey();

    /** Bucket for images, created at start when missing (default {@code denoise}). */
    @WithDefault("denoise")
    String bucket();

    /** Region sent with signed requests (default {@code us-east-1}). */
    @WithDefault("us-east-1")
    String region();

    /** How long to wait for a connection to the store (default 3s): a dead store fails fast. */
    @WithDefault("3s")
    Duration connectTimeout();

    /** How long a read or write on an open connection may stall (default 30s). */
    @WithDefault("30s")
    Duration ioTimeout();
}
