package io.denoise.auth;

import io.denoise.jobs.Priority;
import io.denoise.recipe.InvalidRequestException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * API keys: 256 random bits, shown once, stored only as their SHA-256, each belonging to a tenant and carrying
 * scopes. A replica remembers a key it looked up for {@link AuthConfig#cacheTtl()}, so a revocation reaches every
 * replica within that; unknown keys are not remembered (the cache holds only keys that exist).
 */
@ApplicationScoped
public class ApiKeys {

    /** What every key starts with, so a leaked one is recognisable (secret scanners, logs). */
    public static final String PREFIX = "dn_";
    private static final int SHOWN_PREFIX = PREFIX.length() + 6;
    private static final Pattern TENANT = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");
    private static final SecureRandom RANDOM = new SecureRandom();

    @Inject
    AuthConfig config;

    private final Map<String, Cached> cache = new ConcurrentHashMap<>();
    private final Map<String, Caller> ephemeral = new ConcurrentHashMap<>();

    private record Cached(Optional<Caller> caller, long until) {
    }

    /** A key as listed: never the key itself. */
    public record KeyInfo(UUID id, String tenant, String prefix, List<String> scopes, String maxPriority, Instant createdAt,
                          Instant revokedAt) {

        static KeyInfo of(ApiKey k) {
            return new KeyInfo(k.id, k.tenant, k.prefix, Scope.parse(k.scopes).stream().map(Scope::id).toList(),
                    Priority.ofRank(k.maxPriority).id(), k.createdAt, k.revokedAt);
        }
    }

    /** A new key: its listing, and the key, which is shown this once. */
    public record Created(KeyInfo info, String key) {
    }

    /** Creates a key for {@code tenant} with {@code scopes}, whose jobs may ask for at most normal priority. */
    @Transactional
    public Created create(String tenant, Set<Scope> scopes) {
        return create(tenant, scopes, Priority.NORMAL);
    }

    /** Creates a key for {@code tenant} with {@code scopes}, whose jobs may ask for at most {@code maxPriority}. */
    @Transactional
    public Created create(String tenant, Set<Scope> scopes, Priority maxPriority) {
        String key = newKey();
        return new Created(store(tenant, key, scopes, maxPriority), key);
    }

    /**
     * A key for {@code caller} that exists only in this replica's memory until {@link #forget}: never stored, never
     * valid on another replica. Authenticated the way every key is (the API's warm-up uses one for that).
     */
    public String ephemeral(Caller caller) {
        String key = newKey();
        ephemeral.put(HexFormat.of().formatHex(hash(key)), caller);
        return key;
    }

    /** Ends an {@link #ephemeral} key at once. */
    public void forget(String key) {
        String id = HexFormat.of().formatHex(hash(key));
        ephemeral.remove(id);
        cache.remove(id);
    }

    private static String newKey() {
        byte[] secret = new byte[32];
        RANDOM.nextBytes(secret);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
    }

    /** Stores a key made elsewhere (the local run's file, after the database was reset); no-op if stored. */
    @Transactional
    public KeyInfo register(String tenant, String key, Set<Scope> scopes) {
        if (!key.startsWith(PREFIX) || key.length() < SHOWN_PREFIX + 16) {
            throw new IllegalArgumentException("not a key this service made: it must start with " + PREFIX);
        }
        ApiKey existing = ApiKey.find("keyHash", hash(key)).firstResult();
        return existing != null ? KeyInfo.of(existing) : store(tenant, key, scopes, Priority.NORMAL);
    }

    private KeyInfo store(String tenant, String key, Set<Scope> scopes, Priority maxPriority) {
        checkTenant(tenant);
        if (scopes.isEmpty()) {
            throw new InvalidRequestException("scopes", "must name at least one of jobs, admin");
        }
        ApiKey k = new ApiKey();
        k.id = UUID.randomUUID();
        k.tenant = tenant;
        k.keyHash = hash(key);
        k.prefix = key.substring(0, SHOWN_PREFIX);
        k.scopes = Scope.join(scopes);
        k.maxPriority = maxPriority.rank();
        k.createdAt = Instant.now();
        k.persist();
        return KeyInfo.of(k);
    }

    /** Every key, revoked ones included, oldest first. */
    @Transactional
    public List<KeyInfo> list() {
        return ApiKey.<ApiKey>list("order by createdAt, id").stream().map(KeyInfo::of).toList();
    }

    /** Revokes a key at once here and within {@link AuthConfig#cacheTtl()} everywhere; empty when there is none. */
    @Transactional
    public Optional<KeyInfo> revoke(UUID id) {
        ApiKey k = ApiKey.findById(id);
        if (k == null) {
            return Optional.empty();
        }
        if (k.revokedAt == null) {
            k.revokedAt = Instant.now();
        }
        cache.values().removeIf(c -> c.caller().map(caller -> caller.keyId().equals(id)).orElse(false));
        return Optional.of(KeyInfo.of(k));
    }

    /** The caller a key stands for, if it exists and is not revoked. */
    public Optional<Caller> authenticate(String key) {
        if (key == null || !key.startsWith(PREFIX) || key.length() > 128) {
            return Optional.empty();
        }
        byte[] hash = hash(key);
        String id = HexFormat.of().formatHex(hash);
        long now = System.nanoTime();
        Cached cached = cache.get(id);
        if (cached != null && now - cached.until() < 0) {
            return cached.caller();
        }
        Optional<Caller> caller = Optional.ofNullable(ephemeral.get(id)).or(() -> lookUp(hash));
        if (caller.isPresent()) {
            if (cache.size() >= config.cacheSize()) {
                cache.clear();
            }
            cache.put(id, new Cached(caller, now + config.cacheTtl().toNanos()));
        } else {
            cache.remove(id);
        }
        return caller;
    }

    @Transactional
    Optional<Caller> lookUp(byte[] hash) {
        ApiKey k = ApiKey.find("keyHash = ?1 and revokedAt is null", (Object) hash).firstResult();
        return k == null ? Optional.empty() : Optional.of(new Caller(k.id, k.tenant, Scope.parse(k.scopes),
                Priority.ofRank(k.maxPriority)));
    }

    /** A tenant name: 1 to 64 of a-z, 0-9, - and _, starting with a letter or digit. */
    public static void checkTenant(String tenant) {
        if (tenant == null || !TENANT.matcher(tenant).matches()) {
            throw new InvalidRequestException("tenant", "must be 1 to 64 of a-z, 0-9, - and _, starting with a letter or digit");
        }
    }

    static byte[] hash(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
