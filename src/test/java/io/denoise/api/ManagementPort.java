package io.denoise.api;

import java.net.URL;

/** Addresses on the management interface (health, metrics, OpenAPI, Swagger UI), which has its own port in tests. */
final class ManagementPort {

    private ManagementPort() {
    }

    /** {@code path} (from the root, e.g. {@code /q/metrics}) on the port of {@code management}. */
    static String url(URL management, String path) {
        return "http://localhost:" + management.getPort() + path;
    }
}
