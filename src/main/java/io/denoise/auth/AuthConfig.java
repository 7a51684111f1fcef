package io.denoise.auth;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** API keys: how long a replica trusts a key it looked up, and the local run's key file. */
@ConfigMapping(prefix = "denoise.auth")
public interface AuthConfig {

    /**
     * How long a replica keeps a key it looked up before it reads it again (default 2s): a revoked key stops working
     * on every replica within this.
     */
    @WithDefault("2s")
    Duration cacheTtl();

    /** Keys a replica keeps looked up at most (default 10000); past it the cache starts afresh. */
    @WithDefault("10000")
    int cacheSize();

    /**
     * Where the API role keeps the key of {@link #localTenant()}: created (mode 0600) with the {@code jobs} and
     * {@code admin} scopes on first start when missing, and registered again if the database lost it. Unset in
     * deployments, which create keys with the {@code keys} command or {@code /v1/admin/keys}.
     */
    Optional<Path> localKeyFile();

    /** The tenant of the key in {@link #localKeyFile()} (default local). */
    @WithDefault("local")
    String localTenant();
}
