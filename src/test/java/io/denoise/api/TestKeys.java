package io.denoise.api;

import io.denoise.auth.ApiKeys;
import io.denoise.auth.Scope;
import io.quarkus.arc.Arc;
import io.restassured.RestAssured;

import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * API keys for the Quarkus tests: one per tenant, made through the application's own {@link ApiKeys}, and the
 * default one that RestAssured sends with every request ({@link #useDefault()}).
 */
public final class TestKeys {

    /** The tenant the tests act as unless they say otherwise. */
    public static final String TENANT = "tests";
    private static final Map<String, String> KEYS = new ConcurrentHashMap<>();

    private TestKeys() {
    }

    /** A key of {@code tenant} with the jobs scope, made once per tenant. */
    public static String key(String tenant) {
        return KEYS.computeIfAbsent(tenant, t -> keys().create(t, EnumSet.of(Scope.JOBS)).key());
    }

    /** A new key of {@code tenant} with the jobs and admin scopes. */
    public static String adminKey(String tenant) {
        return keys().create(tenant, EnumSet.of(Scope.JOBS, Scope.ADMIN)).key();
    }

    /** Makes RestAssured send the default tenant's key: call from each test class's {@code @BeforeEach}. */
    public static void useDefault() {
        RestAssured.authentication = RestAssured.oauth2(key(TENANT));
    }

    /** {@code Authorization} header value of the default tenant's key, for plain HTTP clients. */
    public static String bearer() {
        return "Bearer " + key(TENANT);
    }

    private static ApiKeys keys() {
        return Arc.container().instance(ApiKeys.class).get();
    }
}
